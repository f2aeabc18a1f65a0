// Latency-aware mixed precision: the choice (eq. (117)) and the end-to-end check with its
// fallback (eqs. (118)-(119)) against a fake timer with known costs (no timing here), and the
// attribution of the steps of real plans (cnn, vit) to units and fused groups.
#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "quench/latency_aware.h"
#include "quench/model_io.h"
#include "test_util.h"

namespace quench {
namespace {

// A fake model: one node per unit, op "Q" when the unit is quantized, "F" when it is in float.
Model fake_model(const std::vector<QuantUnit>& units, const std::vector<bool>& low) {
  Model m;
  for (size_t u = 0; u < units.size(); ++u) {
    Node n;
    n.name = units[u].name;
    n.op_type.assign(1, low[u] ? 'Q' : 'F');
    m.graph.nodes.push_back(n);
  }
  return m;
}

// Unit u costs q[u] quantized and f[u] in float; a whole model also pays `boundary` for each pair
// of neighbouring units at different precisions (the Q/DQ between them), which the unit times do
// not show.
struct FakeTimer : LatencyTimer {
  FakeTimer(std::vector<double> quantized, std::vector<double> in_float, double boundary_ms = 0)
      : q(std::move(quantized)), f(std::move(in_float)), boundary(boundary_ms) {}
  std::vector<double> q, f;
  double boundary = 0;
  int unit_calls = 0, model_calls = 0;

  std::vector<double> unit_ms(const Model& model) override {
    ++unit_calls;
    std::vector<double> t;
    for (size_t u = 0; u < q.size(); ++u)
      t.push_back(model.graph.nodes[u].op_type == "Q" ? q[u] : f[u]);
    return t;
  }
  double cost(const Model& model) const {
    double c = 0;
    for (size_t u = 0; u < q.size(); ++u) {
      const bool low = model.graph.nodes[u].op_type == "Q";
      c += low ? q[u] : f[u];
      if (u > 0 && low != (model.graph.nodes[u - 1].op_type == "Q")) c += boundary;
    }
    return c;
  }
  std::pair<double, double> model_ms(const Model& a, const Model& b) override {
    ++model_calls;
    return {cost(a), cost(b)};
  }
};

std::vector<QuantUnit> make_units(size_t n) {
  std::vector<QuantUnit> units;
  for (size_t u = 0; u < n; ++u) units.push_back({fmt::format("u{}", u), {fmt::format("u{}", u)}});
  return units;
}

TEST(LatencyAware, KeepsInFloatTheUnitsWhoseQuantizedFormIsNotFaster) {
  const auto units = make_units(5);
  // Ratios 0.5, 0.96, 0.98, 1.2, and no time at all.
  FakeTimer timer({5, 9.6, 9.8, 12, 0}, {10, 10, 10, 10, 0});
  const LatencyChoice c = choose_by_latency(units, fake_model(units, std::vector<bool>(5, true)),
                                            fake_model(units, std::vector<bool>(5, false)), timer);
  EXPECT_EQ(timer.unit_calls, 2);
  EXPECT_EQ(timer.model_calls, 0);
  ASSERT_EQ(c.units.size(), 5u);
  EXPECT_EQ(c.low, (std::vector<bool>{true, true, false, false, false}));
  for (size_t u = 0; u < 5; ++u) {
    EXPECT_EQ(c.units[u].name, units[u].name);
    EXPECT_EQ(c.units[u].int8_ms, timer.q[u]);
    EXPECT_EQ(c.units[u].float_ms, timer.f[u]);
    EXPECT_EQ(c.units[u].kept_float, !c.low[u]);
    // eq. (117), with the margin from the header
    EXPECT_EQ(c.units[u].kept_float, timer.q[u] >= kLatencyMargin * timer.f[u]);
  }
}

TEST(LatencyAware, DecidesAFusedGroupOnItsSums) {
  const auto units = make_units(3);
  // Unit 1 is fused into unit 0's float step (its float time shows in unit 0's).
  FakeTimer timer({6, 5, 3}, {10, 0, 4});
  const Model all = fake_model(units, {true, true, true});
  const Model none = fake_model(units, {false, false, false});
  const LatencyChoice alone = choose_by_latency(units, all, none, timer);
  EXPECT_EQ(alone.low, (std::vector<bool>{true, false, true}));
  // Grouped: 6 + 5 >= 0.97 * (10 + 0): both in float.
  const LatencyChoice grouped = choose_by_latency(units, all, none, timer, {0, 0, 2});
  EXPECT_EQ(grouped.low, (std::vector<bool>{false, false, true}));
  EXPECT_THROW(choose_by_latency(units, all, none, timer, {0, 5, 2}), Error);
  EXPECT_THROW(choose_by_latency(units, all, none, timer, {0, 0}), Error);
}

// Eq. (148): the first unit is faster in float alone (the cnn's 1-channel first convolution), but
// keeping it float puts a Q/DQ boundary in the model that costs more than it saves: every unit
// quantized is faster end to end, and the comparison says so; without the boundary cost it does
// not.
TEST(LatencyAware, EveryUnitQuantizedWinsWhenTheBoundaryCostsMore) {
  const auto units = make_units(4);
  FakeTimer timer({1.2, 1.0, 1.0, 1.0}, {1.0, 3.0, 3.0, 3.0}, 0.5);
  const std::vector<bool> every(4, true);
  const LatencyChoice c = choose_by_latency(units, fake_model(units, every),
                                            fake_model(units, std::vector<bool>(4, false)), timer);
  ASSERT_EQ(c.low, (std::vector<bool>{false, true, true, true}));
  double all_ms = 0, chosen_ms = 0;
  EXPECT_TRUE(every_unit_quantized_is_faster(timer, fake_model(units, every),
                                             fake_model(units, c.low), &all_ms, &chosen_ms));
  EXPECT_DOUBLE_EQ(all_ms, 4.2);
  EXPECT_DOUBLE_EQ(chosen_ms, 4.5);  // 1.0 float + 3 × 1.0 + one boundary
  timer.boundary = 0.1;
  EXPECT_FALSE(
      every_unit_quantized_is_faster(timer, fake_model(units, every), fake_model(units, c.low)));
}

TEST(LatencyAware, CheckKeepsAFasterModelAsItIs) {
  const auto units = make_units(4);
  FakeTimer timer({5, 5, 5, 12}, {10, 10, 10, 10}, 1);
  std::vector<bool> low = {true, true, true, false};
  int builds = 0;
  const LatencyCheck c = ensure_not_slower(
      timer.f, {}, low, fake_model(units, low), fake_model(units, {false, false, false, false}),
      [&](const std::vector<bool>& l) {
        ++builds;
        return fake_model(units, l);
      },
      timer);
  EXPECT_EQ(builds, 0);
  EXPECT_EQ(c.fallback_rounds, 0);
  EXPECT_FALSE(c.fp32_written);
  EXPECT_EQ(c.low, low);
  EXPECT_EQ(c.fp32_ms, 40);
  EXPECT_EQ(c.result_ms, 5 + 5 + 5 + 1 + 10);
  EXPECT_LE(c.result_ms, c.fp32_ms);
}

TEST(LatencyAware, FallsBackUntilNotSlowerWithinTheRoundBound) {
  // Every unit gains a little alone, but each boundary between precisions costs more than a
  // unit gains: alternating choices are slower than FP32 until enough units are back in float.
  for (size_t n : {1u, 2u, 5u, 8u, 13u}) {
    for (double boundary : {0.0, 0.3, 0.7, 3.0}) {
      const auto units = make_units(n);
      FakeTimer timer(std::vector<double>(n, 0.8), std::vector<double>(n, 1.0), boundary);
      for (size_t u = 0; u < n; ++u) timer.q[u] = 0.5 + 0.04 * static_cast<double>(u % 7);
      std::vector<bool> low(n);
      for (size_t u = 0; u < n; ++u) low[u] = u % 2 == 0;
      const Model fp32 = fake_model(units, std::vector<bool>(n, false));
      const LatencyCheck c = ensure_not_slower(
          timer.f, {}, low, fake_model(units, low), fp32,
          [&](const std::vector<bool>& l) { return fake_model(units, l); }, timer);
      const int bound = static_cast<int>(std::ceil(std::log2(static_cast<double>(n)))) + 1;
      EXPECT_LE(c.fallback_rounds, bound) << n << " units, boundary " << boundary;
      EXPECT_LE(c.result_ms, c.fp32_ms) << n << " units, boundary " << boundary;
      EXPECT_EQ(c.fp32_ms, timer.cost(fp32));
      if (c.fp32_written) {
        EXPECT_EQ(std::count(c.low.begin(), c.low.end(), true), 0);
        EXPECT_EQ(c.model.graph.nodes.size(), fp32.graph.nodes.size());
        EXPECT_EQ(c.result_ms, c.fp32_ms);
      } else {
        EXPECT_EQ(c.result_ms, timer.cost(c.model));
        EXPECT_EQ(c.result_ms, timer.cost(fake_model(units, c.low)));
      }
      // Units only ever go back to float.
      for (size_t u = 0; u < n; ++u) EXPECT_TRUE(low[u] || !c.low[u]);
      if (boundary == 0.0) {
        EXPECT_EQ(c.fallback_rounds, 0);
      }
      if (boundary == 3.0 && n > 1) {
        EXPECT_TRUE(c.fp32_written);
      }
    }
  }
}

TEST(LatencyAware, WritesFp32WhenNothingIsQuantized) {
  const auto units = make_units(3);
  FakeTimer timer({2, 3, 4}, {1, 2, 3});
  const std::vector<bool> none(3, false);
  const LatencyCheck c = ensure_not_slower(
      timer.f, {}, none, fake_model(units, none), fake_model(units, none),
      [&](const std::vector<bool>& l) { return fake_model(units, l); }, timer);
  EXPECT_TRUE(c.fp32_written);
  EXPECT_EQ(c.fallback_rounds, 0);
  EXPECT_EQ(c.fp32_ms, 6);
  EXPECT_EQ(c.result_ms, 6);
  EXPECT_EQ(timer.model_calls, 1);
}

TEST(LatencyAware, FallbackMovesAFusedGroupTogether) {
  const auto units = make_units(4);
  FakeTimer timer({2, 1, 3.5, 3.9}, {4, 0, 4, 4}, 2);
  const std::vector<bool> low = {true, true, true, true};
  std::vector<std::vector<bool>> built;
  const LatencyCheck c = ensure_not_slower(
      timer.f, {0, 0, 2, 3}, low, fake_model(units, low),
      fake_model(units, std::vector<bool>(4, false)),
      [&](const std::vector<bool>& l) {
        built.push_back(l);
        return fake_model(units, l);
      },
      timer);
  // All quantized: 2 + 1 + 3.5 + 3.9 = 10.4 < 12, no fallback.
  EXPECT_EQ(c.fallback_rounds, 0);
  // From a mixed start the two groups gaining least (units 3, then 2) go first; units 0 and 1
  // always move together.
  const std::vector<bool> mixed = {true, true, false, true};
  const LatencyCheck m = ensure_not_slower(
      timer.f, {0, 0, 2, 3}, mixed, fake_model(units, mixed),
      fake_model(units, std::vector<bool>(4, false)),
      [&](const std::vector<bool>& l) {
        built.push_back(l);
        return fake_model(units, l);
      },
      timer);
  EXPECT_LE(m.result_ms, m.fp32_ms);
  for (const auto& l : built) {
    EXPECT_EQ(l[0], l[1]) << l[0] << l[1] << l[2] << l[3];
  }
}

TEST(LatencyAware, AttributesTheStepsOfTheCnnToItsUnits) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  DataOptions o;
  o.limit = 16;
  auto calib = open_dataset("fmnist:train", o);
  SensitivityOptions so;
  so.progress = false;
  so.calib.calib_size = 16;
  so.calib.progress = false;
  const MixedPrecisionTrials trials(fp32, *calib, QuantRecipe{}, so);
  EXPECT_THROW(const_cast<MixedPrecisionTrials&>(trials).score(fp32), Error);  // no --val
  const auto& units = trials.units();
  ASSERT_GE(units.size(), 5u);
  const std::vector<Shape> shapes = {{1, 1, 28, 28}};
  const Model all = trials.build(std::vector<bool>(units.size(), true));
  for (const Model* m : {&trials.prepared(), &all}) {
    const Session session(*m, SessionOptions{});
    const std::vector<StepInfo> steps = session.plan_steps(shapes);
    const std::vector<int> unit_of =
        attribute_steps(m->graph, trials.prepared().graph, units, steps);
    ASSERT_EQ(unit_of.size(), steps.size());
    std::map<int, int> per_unit;
    for (size_t s = 0; s < steps.size(); ++s) {
      for (size_t u = 0; u < units.size(); ++u) {
        if (steps[s].node == units[u].name) {
          EXPECT_EQ(unit_of[s], static_cast<int>(u)) << steps[s].node;
        }
      }
      if (unit_of[s] >= 0) ++per_unit[unit_of[s]];
    }
    // Every unit's compute step is found in both plans.
    EXPECT_EQ(per_unit.size(), units.size());
  }
  // The CNN's Relus are in their Conv's unit: no unit is fused into another in float.
  const Session session(trials.prepared(), SessionOptions{});
  const std::vector<size_t> groups =
      fused_unit_groups(trials.prepared().graph, units, session.plan_steps(shapes));
  for (size_t u = 0; u < units.size(); ++u) EXPECT_EQ(groups[u], u);
}

TEST(LatencyAware, GroupsTheVitsMlpFusedInFloat) {
  const Model fp32 = load_model(testing::test_model("vit.onnx"));
  DataOptions o;
  o.limit = 8;
  auto calib = open_dataset("fmnist:train", o);
  SensitivityOptions so;
  so.progress = false;
  so.calib.calib_size = 8;
  so.calib.progress = false;
  const MixedPrecisionTrials trials(fp32, *calib, QuantRecipe{}, so);
  const auto& units = trials.units();
  const Session session(trials.prepared(), SessionOptions{});
  const std::vector<size_t> groups =
      fused_unit_groups(trials.prepared().graph, units, session.plan_steps({{1, 1, 28, 28}}));
  std::map<std::string, size_t> index;
  for (size_t u = 0; u < units.size(); ++u) index[units[u].name] = u;
  // fc1's MatMul and bias Add are one unit (quant_plan.cc); the float plan runs them and the
  // GELU (a unit of its own, named after its first node) as one step: one group.
  const std::string b = "/blocks/blocks.0/";
  ASSERT_TRUE(index.count(b + "fc1/MatMul"));
  EXPECT_FALSE(index.count(b + "fc1/Add"));
  const QuantUnit& fc1 = units[index[b + "fc1/MatMul"]];
  EXPECT_NE(std::find(fc1.nodes.begin(), fc1.nodes.end(), b + "fc1/Add"), fc1.nodes.end());
  std::string gelu;
  for (const QuantUnit& u : units) {
    if (u.nodes.size() == 5 && u.nodes[1] == b + "Erf") gelu = u.name;
  }
  ASSERT_FALSE(gelu.empty()) << "no GELU unit in block 0";
  EXPECT_EQ(groups[index[gelu]], index[b + "fc1/MatMul"]);
  EXPECT_EQ(groups[index[b + "fc1/MatMul"]], index[b + "fc1/MatMul"]);
  size_t grouped = 0;
  for (size_t u = 0; u < units.size(); ++u) grouped += groups[u] != u;
  EXPECT_GE(grouped, 4u);
  EXPECT_LT(grouped, units.size());
}

// With every unit in float, the data-movement chains between them (Reshape -> Transpose -> Split
// -> Squeeze in attention) follow: no QuantizeLinear / DequantizeLinear is left, so the
// "nothing quantized" variant is the FP32 graph (and times as it).
TEST(LatencyAware, EveryUnitInFloatLeavesNoQdqInTheVit) {
  const Model fp32 = load_model(testing::test_model("vit.onnx"));
  DataOptions o;
  o.limit = 8;
  auto calib = open_dataset("fmnist:train", o);
  SensitivityOptions so;
  so.progress = false;
  so.calib.calib_size = 8;
  so.calib.progress = false;
  const MixedPrecisionTrials trials(fp32, *calib, QuantRecipe{}, so);
  const size_t n = trials.units().size();
  auto qdq = [](const Model& m) {
    return std::count_if(m.graph.nodes.begin(), m.graph.nodes.end(), [](const Node& node) {
      return node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear";
    });
  };
  EXPECT_EQ(qdq(trials.build(std::vector<bool>(n, false))), 0);
  EXPECT_GT(qdq(trials.build(std::vector<bool>(n, true))), 0);
  // One unit quantized: its Q/DQ only, far fewer than with all of them.
  std::vector<bool> one(n, false);
  one[n / 2] = true;
  EXPECT_LT(qdq(trials.build(one)), qdq(trials.build(std::vector<bool>(n, true))) / 4);
}

}  // namespace
}  // namespace quench

// Sensitivity analysis and automatic mixed precision: the prefix search against a fake evaluator
// with known sensitivities (minimal set, evaluation bound, unmeetable budgets), and the trials on
// the CNN (units, scores of the extreme models, refusals).
#include <cmath>
#include <map>
#include <numeric>

#include "quench/lowbit.h"
#include "quench/model_io.h"
#include "quench/sensitivity.h"
#include "test_util.h"

namespace quench {
namespace {

// A fake model: unit i costs drops[i] points of top-1 when quantized; the score with the first k
// units (ranked by cost, largest first) kept is the FP32 score minus the rest of the costs.
struct FakeModel {
  double fp32 = 0.9;
  std::vector<double> drops;  // sorted, largest first
  int64_t calls = 0;
  double score(size_t kept) {
    ++calls;
    return fp32 -
           std::accumulate(drops.begin() + static_cast<std::ptrdiff_t>(kept), drops.end(), 0.0);
  }
  // The smallest k meeting `target`, by trying every k.
  size_t brute_force(double target) const {
    for (size_t k = 0; k <= drops.size(); ++k) {
      const double s =
          fp32 - std::accumulate(drops.begin() + static_cast<std::ptrdiff_t>(k), drops.end(), 0.0);
      if (s >= target) return k;
    }
    return drops.size() + 1;
  }
};

TEST(PrefixSearch, FindsTheMinimalPrefixWithinTheBound) {
  for (size_t n : {1u, 2u, 3u, 7u, 8u, 20u, 53u}) {
    FakeModel m;
    for (size_t i = 0; i < n; ++i) m.drops.push_back(0.004 / static_cast<double>(i + 1));
    for (double budget : {0.0, 0.001, 0.003, 0.005, 0.01, 0.05}) {
      m.calls = 0;
      const double target = m.fp32 - budget;
      const PrefixSearchResult r =
          search_kept_prefix(n, target, [&](size_t k) { return m.score(k); });
      const size_t expected = m.brute_force(target);
      ASSERT_TRUE(r.met) << n << " units, budget " << budget;
      EXPECT_EQ(r.kept, expected) << n << " units, budget " << budget;
      EXPECT_GE(r.score, target);
      EXPECT_EQ(r.evaluations, m.calls);
      EXPECT_LE(r.evaluations, prefix_search_bound(n)) << n << " units";
    }
  }
}

TEST(PrefixSearch, BoundIsTwoPlusCeilLog2) {
  EXPECT_EQ(prefix_search_bound(1), 2);
  EXPECT_EQ(prefix_search_bound(2), 3);
  EXPECT_EQ(prefix_search_bound(8), 5);
  EXPECT_EQ(prefix_search_bound(9), 6);
  EXPECT_EQ(prefix_search_bound(100), 9);
}

TEST(PrefixSearch, NothingKeptWhenEverythingQuantizedMeetsTheBudget) {
  FakeModel m;
  m.drops = {0.001, 0.0005};
  const PrefixSearchResult r =
      search_kept_prefix(2, m.fp32 - 0.01, [&](size_t k) { return m.score(k); });
  EXPECT_TRUE(r.met);
  EXPECT_EQ(r.kept, 0u);
  EXPECT_EQ(r.evaluations, 1);
}

TEST(PrefixSearch, UnmeetableBudgetReturnsTheBestFound) {
  // Even with every unit kept the model misses the target (the higher precision loses too).
  const PrefixSearchResult r =
      search_kept_prefix(5, 0.95, [](size_t k) { return 0.80 + 0.01 * static_cast<double>(k); });
  EXPECT_FALSE(r.met);
  EXPECT_EQ(r.kept, 5u);
  EXPECT_NEAR(r.score, 0.85, 1e-12);
  EXPECT_EQ(r.evaluations, 2);
  // When keeping units makes it worse, nothing kept is the best found.
  const PrefixSearchResult worse =
      search_kept_prefix(5, 0.95, [](size_t k) { return 0.90 - 0.01 * static_cast<double>(k); });
  EXPECT_FALSE(worse.met);
  EXPECT_EQ(worse.kept, 0u);
  EXPECT_NEAR(worse.score, 0.90, 1e-12);
}

std::unique_ptr<Dataset> images(const std::string& spec, int64_t n) {
  DataOptions o;
  o.limit = n;
  return open_dataset(spec, o);
}

SensitivityOptions quiet(int bits) {
  SensitivityOptions o;
  o.weight_bits = bits;
  o.progress = false;
  o.calib.calib_size = 32;
  o.calib.progress = false;
  o.batch = 16;
  return o;
}

TEST(MixedPrecisionTrials, UnitsAndExtremeModelsOnTheCnn) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("random:32:1x28x28", 32);  // unlabeled: output SQNR against FP32
  MixedPrecisionTrials trials(fp32, *calib, *val, QuantRecipe{}, quiet(8));
  EXPECT_FALSE(trials.has_labels());
  EXPECT_STREQ(trials.metric(), "sqnr_db");
  const size_t n = trials.units().size();
  ASSERT_GE(n, 5u);  // 5 Conv + 2 Gemm, Relus fused into their units
  std::map<std::string, int> fused;
  for (const QuantUnit& u : trials.units()) {
    ASSERT_FALSE(u.nodes.empty());
    EXPECT_EQ(u.nodes.front(), u.name);
    if (u.nodes.size() > 1) ++fused[u.name];
  }
  EXPECT_GE(fused.size(), 4u);  // Conv + Relu units
  // Nothing quantized: the prepared float model (folded), far above any quantized one.
  const double none = trials.score(trials.build(std::vector<bool>(n, false)));
  const double all = trials.score(trials.build(std::vector<bool>(n, true)));
  std::vector<bool> one(n, false);
  one[0] = true;
  const double first_only = trials.score(trials.build(one));
  EXPECT_GT(none, 60.0);  // float rounding of the folded graph only
  EXPECT_TRUE(std::isfinite(all));
  EXPECT_GT(none, all);
  EXPECT_GT(first_only, all);          // one unit quantized strays less than all of them
  EXPECT_EQ(trials.evaluations(), 4);  // FP32 reference + 3
  EXPECT_THROW(trials.build(std::vector<bool>(n + 1, true)), Error);
}

// Cross-layer equalization's per-channel bound (Relu -> Min) joins its convolution's unit, as the
// QDQ writer fuses it: no unit of its own.
TEST(MixedPrecisionTrials, PerChannelBoundsJoinTheirConvolutionsUnit) {
  const Model fp32 = load_model(testing::test_model("mobilenetv2.onnx"));
  EqualizationReport er;
  const Model eq =
      equalize_cross_layer(prepare_for_quantization(fp32), nullptr, CalibrateOptions{}, &er);
  ASSERT_GT(er.clips_split, 0);
  auto calib = images("random:8:1x28x28", 8);
  MixedPrecisionTrials trials(eq, *calib, *calib, QuantRecipe{}, quiet(8));
  std::map<std::string, std::string> op_of;
  for (const Node& node : eq.graph.nodes) op_of[node.name] = node.op_type;
  int with_bound = 0;
  for (const QuantUnit& u : trials.units()) {
    EXPECT_NE(op_of[u.name], "Min") << u.name;
    for (const auto& node : u.nodes) with_bound += op_of[node] == "Min";
  }
  EXPECT_EQ(with_bound, er.clips_split);
}

TEST(MixedPrecisionTrials, SensitivityCountsAndRanks) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("random:24:1x28x28", 24);
  MixedPrecisionTrials trials(fp32, *calib, *val, QuantRecipe{}, quiet(4));
  const SensitivityResult r = analyze_sensitivity(trials, true, false);
  const size_t n = trials.units().size();
  EXPECT_EQ(r.units.size(), n);
  EXPECT_EQ(r.evaluations, static_cast<int64_t>(2 + 2 * n));
  for (size_t i = 1; i < r.units.size(); ++i) {
    EXPECT_LE(r.units[i - 1].only_quantized, r.units[i].only_quantized);
  }
  for (const UnitSensitivity& u : r.units) EXPECT_FALSE(std::isnan(u.all_but_this));
  EXPECT_GT(r.higher_precision, r.all_quantized);  // 8-bit weights everywhere vs 4-bit
}

// keep_in_float: in a 4-bit model the unit is in float whatever `low` says (a unit not low is
// otherwise at 8 bits), and the ranking leaves it out.
TEST(MixedPrecisionTrials, KeepInFloatOverridesEitherPrecision) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("random:16:1x28x28", 16);
  MixedPrecisionTrials trials(fp32, *calib, *val, QuantRecipe{}, quiet(4));
  const size_t n = trials.units().size();
  ASSERT_GE(n, 3u);
  EXPECT_EQ(trials.in_float(), std::vector<bool>(n, false));
  // The weight of unit u: an int8 tensor behind a DequantizeLinear, or a float initializer.
  auto weight = [&](const Model& m, size_t u) -> const Tensor* {
    for (const Node& node : m.graph.nodes) {
      if (node.name != trials.units()[u].name) continue;
      const std::string& w = node.input(1);
      if (const Tensor* t = m.graph.initializer(w)) return t;
      for (const Node& dq : m.graph.nodes) {
        if (dq.op_type == "DequantizeLinear" && dq.outputs[0] == w) {
          return m.graph.initializer(dq.input(0));
        }
      }
    }
    return nullptr;
  };
  auto widest = [](const Tensor& t) {
    int most = 0;
    for (int64_t i = 0; i < t.numel(); ++i)
      most = std::max(most, std::abs(int{t.data<int8_t>()[i]}));
    return most;
  };
  std::vector<bool> first(n, false);
  first[0] = true;
  trials.keep_in_float(first);
  for (const bool low : {true, false}) {
    const Model m = trials.build(std::vector<bool>(n, low));
    const Tensor* w0 = weight(m, 0);
    const Tensor* w1 = weight(m, 1);
    ASSERT_NE(w0, nullptr);
    ASSERT_NE(w1, nullptr);
    EXPECT_EQ(w0->dtype(), DType::kFloat32) << "low " << low;
    ASSERT_EQ(w1->dtype(), DType::kInt8);
    if (low) {
      EXPECT_LE(widest(*w1), 8);
    } else {
      EXPECT_GT(widest(*w1), 8);  // 8-bit weights
    }
  }
  const SensitivityResult r = analyze_sensitivity(trials, false, false);
  EXPECT_EQ(r.units.size(), n - 1);
  EXPECT_EQ(r.evaluations, static_cast<int64_t>(2 + (n - 1)));
  for (const UnitSensitivity& u : r.units) EXPECT_NE(u.unit.name, trials.units()[0].name);
  EXPECT_THROW(trials.keep_in_float(std::vector<bool>(n + 1, false)), Error);
}

TEST(MixedPrecision, RefusesUnlabeledValidationAndBadBudgets) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 16);
  auto unlabeled = images("random:16:1x28x28", 16);
  auto labeled = images("fmnist:test", 16);
  try {
    quantize_mixed_precision(fp32, *calib, *unlabeled, QuantRecipe{}, 0.3, quiet(8));
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("no labels"), std::string::npos) << e.what();
  }
  EXPECT_THROW(quantize_mixed_precision(fp32, *calib, *labeled, QuantRecipe{}, -1, quiet(8)),
               Error);
}

TEST(MixedPrecision, MeetsAGenerousBudgetWithinTheBound) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("fmnist:test", 48);
  const MixedPrecisionResult r =
      quantize_mixed_precision(fp32, *calib, *val, QuantRecipe{}, 100.0, quiet(4));
  EXPECT_TRUE(r.met);
  EXPECT_TRUE(r.kept.empty());  // any model is within 100 points
  // Every unit quantized meets it: FP32's evaluation and that one, no ranking.
  EXPECT_EQ(r.evaluations, 2);
  EXPECT_TRUE(r.sensitivity.units.empty());
  EXPECT_GT(r.units, 0);
  EXPECT_GE(r.reached, r.target);
  EXPECT_FALSE(r.model.graph.nodes.empty());
}

// The int8 initializers of a written model (weights, and int32 biases), by name.
std::map<std::string, std::vector<uint8_t>> integer_initializers(const Model& m) {
  std::map<std::string, std::vector<uint8_t>> out;
  for (const auto& [name, t] : m.graph.initializers) {
    if (t.dtype() != DType::kInt8 && t.dtype() != DType::kInt32) continue;
    const auto* p = static_cast<const uint8_t*>(t.raw_data());
    out[name].assign(p, p + t.nbytes());
  }
  return out;
}

// Eq. (147): with GPTQ and bias correction, the trial with every unit at 4 bits is the model
// quantize_rounded writes from the same table, and a trial with one unit at 8 bits differs in that
// unit's weight and bias only.
TEST(MixedPrecisionTrials, RoundedUnitsTakeTheChosenIntegers) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("fmnist:test", 16);
  SensitivityOptions o = quiet(4);
  o.rounding.gptq = true;
  o.rounding.bias_correction = true;
  QuantRecipe recipe;
  MixedPrecisionTrials trials(fp32, *calib, *val, recipe, o);
  const size_t n = trials.units().size();
  const Model all = trials.build(std::vector<bool>(n, true));
  recipe.weight_bits = 4;
  CalibrateOptions co = o.calib;
  const CalibrationTable table = calibrate(trials.prepared(), *calib, recipe, co);
  WeightRoundingOptions w = o.rounding;
  w.calib_size = co.calib_size;
  w.batch = co.batch;
  w.progress = false;
  const Model want = quantize_rounded(trials.prepared(), table, recipe, *calib, w);
  const auto got_ints = integer_initializers(all), want_ints = integer_initializers(want);
  EXPECT_EQ(got_ints, want_ints);
  std::vector<bool> first_high(n, true);
  first_high[0] = false;
  const auto mixed = integer_initializers(trials.build(first_high));
  int differ = 0;
  for (const auto& [name, bytes] : mixed) {
    auto it = got_ints.find(name);
    differ += it == got_ints.end() || it->second != bytes;
  }
  EXPECT_GE(differ, 1);  // the first unit's weight (at 8 bits), its bias
  EXPECT_LE(differ, 2);
  EXPECT_GT(got_ints.size(), 4u);
}

// A budget every-unit-quantized misses (2-bit weights, no drop allowed): the ranking runs, reusing
// that score, then the prefix search.
TEST(MixedPrecision, RanksWhenEveryUnitQuantizedMissesTheBudget) {
  const Model fp32 = load_model(testing::test_model("cnn.onnx"));
  auto calib = images("fmnist:train", 32);
  auto val = images("fmnist:test", 48);
  QuantRecipe recipe;
  recipe.weight_bits = 2;
  const MixedPrecisionResult r =
      quantize_mixed_precision(fp32, *calib, *val, recipe, 0.0, quiet(4));
  ASSERT_LT(r.sensitivity.all_quantized, r.target) << "2-bit weights lost nothing here";
  EXPECT_EQ(static_cast<int64_t>(r.sensitivity.units.size()), r.units);
  EXPECT_FALSE(std::isnan(r.sensitivity.higher_precision));
  // FP32, every unit quantized, the ranking without it (1 + U), the search without k = 0, n.
  EXPECT_LE(r.evaluations, 2 + (1 + r.units) + r.search_bound - 2);
  EXPECT_GE(r.evaluations, 2 + (1 + r.units));
}

}  // namespace
}  // namespace quench

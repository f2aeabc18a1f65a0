// Latency-aware mixed precision (include/quench/latency_aware.h): the attribution of the steps of
// a lowered model to quantization units, the runtime's timer, and the choice and end-to-end check
// of docs/quantization.md eqs. (117)-(119).
#include "quench/latency_aware.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>

#include "core/check.h"
#include "quench/interrupt.h"

namespace quench {
namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  double m = v[mid];
  if (v.size() % 2 == 0) {
    m = (m + *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid))) / 2;
  }
  return m;
}

// The groups of `n` units: `groups` checked, or each unit alone when empty.
std::vector<size_t> unit_groups(const std::vector<size_t>& groups, size_t n) {
  if (groups.empty()) {
    std::vector<size_t> alone(n);
    for (size_t u = 0; u < n; ++u) alone[u] = u;
    return alone;
  }
  QUENCH_CHECK(groups.size() == n, ErrorKind::kInvalidArgument,
               "one group per unit expected: {} units, got {}", n, groups.size());
  for (size_t g : groups) {
    QUENCH_CHECK(g < n, ErrorKind::kInvalidArgument, "unit group {} out of range [0, {})", g, n);
  }
  return groups;
}

void check_interrupt() {
  if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted");
}

class RuntimeLatencyTimer : public LatencyTimer {
 public:
  RuntimeLatencyTimer(const Graph& prepared, std::vector<QuantUnit> units,
                      std::vector<Tensor> inputs, const SessionOptions& session, int repeats,
                      double seconds)
      : prepared_(prepared),
        units_(std::move(units)),
        inputs_(std::move(inputs)),
        session_(session),
        repeats_(repeats),
        seconds_(seconds) {
    QUENCH_CHECK(repeats_ > 0 && seconds_ > 0, ErrorKind::kInvalidArgument,
                 "latency measurement needs a positive number of runs and time");
  }

  std::vector<double> unit_ms(const Model& model) override {
    const Session session(model, session_);
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs_) shapes.push_back(t.shape());
    const std::vector<StepInfo> steps = session.plan_steps(shapes);
    const std::vector<int> unit_of = attribute_steps(model.graph, prepared_, units_, steps);
    for (int i = 0; i < 3; ++i) session.run(inputs_);
    std::vector<std::vector<double>> per_unit(units_.size());
    for (int r = 0; r < repeats_; ++r) {
      check_interrupt();
      std::vector<double> ms;
      RunOptions ro;
      ro.step_ms = &ms;
      session.run(inputs_, ro);
      QUENCH_CHECK(ms.size() == steps.size(), ErrorKind::kUnsupported,
                   "--latency-aware times the steps of the model's plan, but this model runs node "
                   "by node (its shapes depend on values): {} step times for {} planned steps",
                   ms.size(), steps.size());
      std::vector<double> sum(units_.size(), 0.0);
      for (size_t s = 0; s < ms.size(); ++s) {
        if (unit_of[s] >= 0) sum[static_cast<size_t>(unit_of[s])] += ms[s];
      }
      for (size_t u = 0; u < sum.size(); ++u) per_unit[u].push_back(sum[u]);
    }
    std::vector<double> out;
    for (auto& v : per_unit) out.push_back(median(std::move(v)));
    return out;
  }

  std::pair<double, double> model_ms(const Model& a, const Model& b) override {
    const Session sa(a, session_), sb(b, session_);
    for (int i = 0; i < 3; ++i) {
      sa.run(inputs_);
      sb.run(inputs_);
    }
    std::vector<double> ta, tb;
    auto time_one = [&](const Session& s, std::vector<double>& out) {
      const auto start = std::chrono::steady_clock::now();
      s.run(inputs_);
      out.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count());
    };
    // Blocks of 5 runs of each, alternately, so that a change in the machine's load falls on
    // both; at least 20 runs of each and about `seconds_` in all.
    const auto start = std::chrono::steady_clock::now();
    while (ta.size() < 20 ||
           std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
               seconds_) {
      check_interrupt();
      for (int i = 0; i < 5; ++i) time_one(sa, ta);
      for (int i = 0; i < 5; ++i) time_one(sb, tb);
    }
    return {median(std::move(ta)), median(std::move(tb))};
  }

 private:
  const Graph& prepared_;
  std::vector<QuantUnit> units_;
  std::vector<Tensor> inputs_;
  SessionOptions session_;
  int repeats_;
  double seconds_;
};

}  // namespace

std::vector<int> attribute_steps(const Graph& timed, const Graph& prepared,
                                 const std::vector<QuantUnit>& units,
                                 const std::vector<StepInfo>& steps) {
  // The unit of each node of the prepared graph: its own, else its first computed input's.
  std::map<std::string, size_t> prepared_index, prepared_producer;
  for (size_t i = 0; i < prepared.nodes.size(); ++i) {
    prepared_index[prepared.nodes[i].name] = i;
    for (const auto& out : prepared.nodes[i].outputs) prepared_producer[out] = i;
  }
  std::vector<int> region(prepared.nodes.size(), -2);  // -2: not yet known
  for (size_t u = 0; u < units.size(); ++u) {
    for (const auto& name : units[u].nodes) {
      auto it = prepared_index.find(name);
      if (it != prepared_index.end()) region[it->second] = static_cast<int>(u);
    }
  }
  std::function<int(size_t, int)> region_of = [&](size_t i, int depth) -> int {
    if (region[i] != -2) return region[i];
    int r = -1;
    if (depth < 100000) {
      for (const auto& in : prepared.nodes[i].inputs) {
        auto p = prepared_producer.find(in);
        if (p == prepared_producer.end() || p->second == i) continue;
        r = region_of(p->second, depth + 1);
        break;
      }
    }
    return region[i] = r;
  };

  // A step of the timed graph: a node or a tensor of it (QuantizeLinear / DequantizeLinear nodes
  // are named after the tensor they convert; "..._after_NODE" when the lowering moved them).
  std::map<std::string, size_t> timed_index, timed_producer;
  for (size_t i = 0; i < timed.nodes.size(); ++i) {
    timed_index[timed.nodes[i].name] = i;
    for (const auto& out : timed.nodes[i].outputs) timed_producer[out] = i;
  }
  auto find_timed = [&](std::string name) -> int {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (auto it = timed_index.find(name); it != timed_index.end()) {
        return static_cast<int>(it->second);
      }
      if (auto it = timed_producer.find(name); it != timed_producer.end()) {
        return static_cast<int>(it->second);
      }
      const size_t after = name.rfind("_after_");
      if (after == std::string::npos) break;
      name = name.substr(0, after);
    }
    return -1;
  };
  std::vector<int> out;
  for (const StepInfo& step : steps) {
    int node = find_timed(step.node);
    int unit = -1;
    // Walk back from nodes the quantizer added to the prepared node whose value they convert.
    for (size_t hops = 0; node >= 0 && hops <= timed.nodes.size(); ++hops) {
      const Node& n = timed.nodes[static_cast<size_t>(node)];
      if (auto it = prepared_index.find(n.name); it != prepared_index.end()) {
        unit = region_of(it->second, 0);
        break;
      }
      int next = -1;
      for (const auto& in : n.inputs) {
        auto p = timed_producer.find(in);
        if (p != timed_producer.end()) {
          next = static_cast<int>(p->second);
          break;
        }
      }
      node = next;
    }
    out.push_back(unit);
  }
  return out;
}

std::vector<size_t> fused_unit_groups(const Graph& prepared, const std::vector<QuantUnit>& units,
                                      const std::vector<StepInfo>& float_steps) {
  std::set<std::string> stepped;
  for (const StepInfo& s : float_steps) stepped.insert(s.node);
  std::map<std::string, const Node*> by_name;
  std::map<std::string, std::string> producer;
  for (const Node& n : prepared.nodes) {
    by_name[n.name] = &n;
    for (const auto& out : n.outputs) producer[out] = n.name;
  }
  std::vector<size_t> group(units.size());
  for (size_t u = 0; u < units.size(); ++u) {
    group[u] = u;
    bool has_step = false;
    for (const auto& node : units[u].nodes) has_step = has_step || stepped.count(node) != 0;
    auto head = by_name.find(units[u].name);
    if (has_step || head == by_name.end()) continue;
    for (const auto& in : head->second->inputs) {
      auto p = producer.find(in);
      if (p == producer.end()) continue;
      const int up = attribute_steps(prepared, prepared, units, {StepInfo{p->second, "", ""}})[0];
      // Units are in graph order: the one upstream already has its group.
      if (up >= 0 && static_cast<size_t>(up) < u) group[u] = group[static_cast<size_t>(up)];
      break;
    }
  }
  return group;
}

std::unique_ptr<LatencyTimer> make_runtime_latency_timer(const Graph& prepared,
                                                         std::vector<QuantUnit> units,
                                                         std::vector<Tensor> inputs,
                                                         const SessionOptions& session, int repeats,
                                                         double seconds) {
  return std::make_unique<RuntimeLatencyTimer>(prepared, std::move(units), std::move(inputs),
                                               session, repeats, seconds);
}

LatencyChoice choose_by_latency(const std::vector<QuantUnit>& units, const Model& all_quantized,
                                const Model& fp32, LatencyTimer& timer,
                                const std::vector<size_t>& groups, double margin) {
  const std::vector<size_t> group = unit_groups(groups, units.size());
  const std::vector<double> q = timer.unit_ms(all_quantized);
  const std::vector<double> f = timer.unit_ms(fp32);
  QUENCH_CHECK(q.size() == units.size() && f.size() == units.size(), ErrorKind::kInternal,
               "latency timer returned {} and {} unit times for {} units", q.size(), f.size(),
               units.size());
  std::vector<double> gq(units.size(), 0.0), gf(units.size(), 0.0);
  for (size_t u = 0; u < units.size(); ++u) {
    gq[group[u]] += q[u];
    gf[group[u]] += f[u];
  }
  LatencyChoice c;
  for (size_t u = 0; u < units.size(); ++u) {
    // eq. (117), on the sums of the unit's group
    const bool keep = gq[group[u]] >= margin * gf[group[u]];
    c.units.push_back({units[u].name, q[u], f[u], keep});
    c.low.push_back(!keep);
  }
  return c;
}

LatencyCheck ensure_not_slower(const std::vector<double>& float_ms,
                               const std::vector<size_t>& groups, std::vector<bool> low,
                               Model model, const Model& fp32,
                               const std::function<Model(const std::vector<bool>&)>& build,
                               LatencyTimer& timer,
                               const std::function<void(const std::string&)>& progress) {
  QUENCH_CHECK(float_ms.size() == low.size(), ErrorKind::kInvalidArgument,
               "one float time per unit expected: {} units, got {}", low.size(), float_ms.size());
  const std::vector<size_t> group = unit_groups(groups, low.size());
  auto say = [&](const std::string& line) {
    if (progress) progress(line);
  };
  auto count_low = [](const std::vector<bool>& l) {
    return static_cast<size_t>(std::count(l.begin(), l.end(), true));
  };
  LatencyCheck c;
  bool measured = false;
  while (count_low(low) > 0) {
    // eq. (118): the model end to end against FP32.
    const auto [f, r] = timer.model_ms(fp32, model);
    measured = true;
    c.fp32_ms = f;
    c.result_ms = r;
    say(fmt::format("latency check: {} unit(s) quantized, {:.4f} ms against FP32 {:.4f} ms",
                    count_low(low), r, f));
    if (r <= f) {
      c.model = std::move(model);
      c.low = std::move(low);
      return c;
    }
    // Slower: keep in float the half of the quantized groups that gain least here.
    const std::vector<double> t = timer.unit_ms(model);
    QUENCH_CHECK(t.size() == low.size(), ErrorKind::kInternal,
                 "latency timer returned {} unit times for {} units", t.size(), low.size());
    std::map<size_t, double> gain;  // group -> float minus current time of its quantized units
    for (size_t u = 0; u < low.size(); ++u) {
      if (low[u]) gain[group[u]] += float_ms[u] - t[u];
    }
    std::vector<std::pair<size_t, double>> order(gain.begin(), gain.end());
    std::stable_sort(order.begin(), order.end(),
                     [](const auto& a, const auto& b) { return a.second < b.second; });
    const size_t half = (order.size() + 1) / 2;
    size_t drop = 0;
    for (size_t i = 0; i < half; ++i) {
      for (size_t u = 0; u < low.size(); ++u) {
        if (low[u] && group[u] == order[i].first) {
          low[u] = false;
          ++drop;
        }
      }
    }
    ++c.fallback_rounds;
    c.notes.push_back(fmt::format(
        "the model was slower than FP32 ({:.4f} ms against {:.4f} ms): {} more unit(s) kept in "
        "float (eq. (118))",
        r, f, drop));
    say(c.notes.back());
    if (count_low(low) > 0) model = build(low);
  }
  // eq. (119): nothing quantized is left; the FP32 model is written.
  if (!measured) {
    c.fp32_ms = timer.model_ms(fp32, fp32).first;
  }
  c.result_ms = c.fp32_ms;
  c.model = fp32;
  c.low = std::move(low);
  c.fp32_written = true;
  c.notes.push_back(
      "every quantized variant measured was slower than FP32: the FP32 model is written "
      "unchanged (eq. (119))");
  return c;
}

bool every_unit_quantized_is_faster(LatencyTimer& timer, const Model& all_quantized,
                                    const Model& chosen, double* all_ms, double* chosen_ms) {
  const auto [a, c] = timer.model_ms(all_quantized, chosen);
  if (all_ms) *all_ms = a;
  if (chosen_ms) *chosen_ms = c;
  return a < c;
}

}  // namespace quench

// quantize_latency_aware (include/quench/latency_aware.h): the whole of `quantize
// --latency-aware`, shared by the CLI and the Python package.
#include <fmt/format.h>

#include <algorithm>

#include "core/check.h"
#include "quench/evaluate.h"
#include "quench/latency_aware.h"

namespace quench {

LatencyAwareResult quantize_latency_aware(const Model& fp32, const Dataset& calib,
                                          const Dataset* val, const QuantRecipe& recipe,
                                          const LatencyAwareOptions& options) {
  QUENCH_CHECK(options.batch > 0, ErrorKind::kInvalidArgument,
               "--latency-batch must be positive, got {}", options.batch);
  QUENCH_CHECK(calib.size() >= options.batch, ErrorKind::kInvalidArgument,
               "--latency-batch {} is larger than the calibration data ({} samples), whose first "
               "samples are the timed input",
               options.batch, calib.size());
  QUENCH_CHECK(options.sensitivity.weight_bits == 8 && recipe.weight_bits == 8,
               ErrorKind::kUnsupported,
               "--latency-aware compares 8-bit units with float; narrower weights are not "
               "supported with it yet");
  const bool max_drop = options.max_drop_points >= 0;
  QUENCH_CHECK(!max_drop || (val != nullptr && val->has_labels()), ErrorKind::kInvalidArgument,
               "--max-drop needs labeled validation data (--val): the budget is in top-1 points "
               "against FP32");
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const SensitivityOptions& so = options.sensitivity;
  const MixedPrecisionTrials trials(fp32, calib, recipe, so);
  const std::vector<QuantUnit>& units = trials.units();
  std::vector<Tensor> inputs;
  std::vector<size_t> groups;
  {
    const Session session(trials.prepared(), so.session);
    const DataBinding binding(session, calib, "the calibration data");
    inputs = binding.feeds(calib.batch(0, options.batch));
    std::vector<Shape> shapes;
    for (const Tensor& t : inputs) shapes.push_back(t.shape());
    groups = fused_unit_groups(trials.prepared().graph, units, session.plan_steps(shapes));
  }
  auto timer = make_runtime_latency_timer(trials.prepared().graph, units, inputs, so.session);
  say(fmt::format("latency: timing {} units quantized and in float (batch {}, medians of 50 runs)",
                  units.size(), options.batch));
  const std::vector<bool> every(units.size(), true);
  QuantizeReport every_report;
  const Model every_model = trials.build(every, &every_report);
  const LatencyChoice choice =
      choose_by_latency(units, every_model, trials.prepared(), *timer, groups);
  LatencyAwareResult r;
  std::vector<bool> low = choice.low;
  r.kept_by.assign(units.size(), "");
  for (size_t u = 0; u < units.size(); ++u) {
    if (!low[u]) r.kept_by[u] = "latency";
    r.group.push_back(units[groups[u]].name);
  }
  auto quantized = static_cast<size_t>(std::count(low.begin(), low.end(), true));
  say(fmt::format("latency: {} of {} units kept in float (int8 >= {} x float)",
                  units.size() - quantized, units.size(), kLatencyMargin));
  std::vector<std::string> notes;
  Model model;
  bool built = false;  // `model` and r.report are those of `low`
  if (!max_drop && quantized > 0 && quantized < units.size()) {
    // eq. (148): the choice against every unit quantized, end to end.
    model = trials.build(low, &r.report);
    built = true;
    double all_ms = 0, chosen_ms = 0;
    if (every_unit_quantized_is_faster(*timer, every_model, model, &all_ms, &chosen_ms)) {
      notes.push_back(fmt::format(
          "every unit quantized ran faster end to end than keeping {} in float ({:.4f} ms "
          "against {:.4f} ms): all are kept quantized (eq. (148))",
          units.size() - quantized, all_ms, chosen_ms));
      say(notes.back());
      low = every;
      quantized = units.size();
      r.every_unit_quantized = true;
      std::fill(r.kept_by.begin(), r.kept_by.end(), "");
      model = every_model;
      r.report = every_report;
    }
  }
  if (max_drop && quantized > 0) {
    // The accuracy search runs on the units left quantized; those kept for latency are skipped.
    QuantRecipe rest = recipe;
    for (size_t u = 0; u < units.size(); ++u) {
      if (low[u]) continue;
      for (const auto& node : units[u].nodes) rest.node_overrides[node] = "skip";
    }
    MixedPrecisionResult a =
        quantize_mixed_precision(fp32, calib, *val, rest, options.max_drop_points, so);
    for (const UnitSensitivity& k : a.kept) {
      for (size_t u = 0; u < units.size(); ++u) {
        if (units[u].name == k.unit.name && low[u]) {
          low[u] = false;
          r.kept_by[u] = "accuracy";
        }
      }
    }
    model = std::move(a.model);
    r.report = a.report;
    a.model = Model{};
    r.accuracy = std::move(a);
  } else {
    if (max_drop) {
      r.report.notes.push_back(
          "every unit is kept in float for latency: --max-drop has nothing left to search");
    }
    if (quantized == units.size()) {
      model = every_model;
      r.report = every_report;
    } else if (!built) {
      model = trials.build(low, &r.report);
    }
  }
  std::vector<double> float_ms;
  for (const UnitLatency& u : choice.units) float_ms.push_back(u.float_ms);
  LatencyCheck check = ensure_not_slower(
      float_ms, groups, low, std::move(model), fp32,
      [&](const std::vector<bool>& l) { return trials.build(l); }, *timer, say);
  for (size_t u = 0; u < units.size(); ++u) {
    if (low[u] && !check.low[u]) r.kept_by[u] = "fallback";
  }
  if (check.fp32_written) {
    r.report = QuantizeReport{};
  } else if (check.fallback_rounds > 0) {
    check.model = trials.build(check.low, &r.report);
  }
  for (const auto& note : notes) r.report.notes.push_back(note);
  for (const auto& note : check.notes) r.report.notes.push_back(note);
  if (check.fallback_rounds > 0 && r.accuracy) {
    r.report.notes.push_back(
        "the top-1 of --max-drop was measured before the latency fallback kept more units in "
        "float");
  }
  r.units = choice.units;
  for (size_t u = 0; u < units.size(); ++u) r.units[u].kept_float = !check.low[u];
  r.model = std::move(check.model);
  r.fp32_ms = check.fp32_ms;
  r.result_ms = check.result_ms;
  r.fallback_rounds = check.fallback_rounds;
  r.fp32_written = check.fp32_written;
  return r;
}

}  // namespace quench

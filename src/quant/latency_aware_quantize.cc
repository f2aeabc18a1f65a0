// quantize_latency_aware (include/quench/latency_aware.h): the whole of `quantize
// --latency-aware`, shared by the CLI and the Python package.
#include <fmt/format.h>

#include <algorithm>
#include <memory>

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
  const bool max_drop = options.max_drop_points >= 0;
  QUENCH_CHECK(!max_drop || (val != nullptr && val->has_labels()), ErrorKind::kInvalidArgument,
               "--max-drop needs labeled validation data (--val): the budget is in top-1 points "
               "against FP32");
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const SensitivityOptions& so = options.sensitivity;
  // One calibration (and one rounding, with GPTQ, AdaRound or bias correction) for the timing,
  // the accuracy search and the written model.
  const std::unique_ptr<MixedPrecisionTrials> made =
      max_drop ? std::make_unique<MixedPrecisionTrials>(fp32, calib, *val, recipe, so)
               : std::make_unique<MixedPrecisionTrials>(fp32, calib, recipe, so);
  MixedPrecisionTrials& trials = *made;
  const std::vector<QuantUnit>& units = trials.units();
  const size_t n = units.size();
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
                  n, options.batch));
  // `quantized[u]`: unit u is quantized (at the requested width, or at 8 bits where the accuracy
  // search keeps a low-bit unit higher); the others are in float. Builds go through this one
  // function so that the timing, the search and the fallback see the same models.
  std::vector<bool> kept_higher(n, false);  // by --max-drop
  auto build = [&](const std::vector<bool>& quantized, QuantizeReport* report) {
    std::vector<bool> in_float(n), low(n);
    for (size_t u = 0; u < n; ++u) {
      in_float[u] = !quantized[u];
      low[u] = quantized[u] && !kept_higher[u];
    }
    trials.keep_in_float(in_float);
    return trials.build(low, report);
  };
  const std::vector<bool> every(n, true);
  QuantizeReport every_report;
  const Model every_model = build(every, &every_report);
  const LatencyChoice choice =
      choose_by_latency(units, every_model, trials.prepared(), *timer, groups);
  LatencyAwareResult r;
  std::vector<bool> quantized = choice.low;
  r.kept_by.assign(n, "");
  for (size_t u = 0; u < n; ++u) {
    if (!quantized[u]) r.kept_by[u] = "latency";
    r.group.push_back(units[groups[u]].name);
  }
  auto count = [](const std::vector<bool>& q) {
    return static_cast<size_t>(std::count(q.begin(), q.end(), true));
  };
  say(fmt::format("latency: {} of {} units kept in float (quantized >= {} x float)",
                  n - count(quantized), n, kLatencyMargin));
  std::vector<std::string> notes;
  if (count(quantized) > 0 && count(quantized) < n) {
    // eq. (148): the choice against every unit quantized, end to end, before any accuracy search.
    const Model chosen = build(quantized, nullptr);
    double all_ms = 0, chosen_ms = 0;
    if (every_unit_quantized_is_faster(*timer, every_model, chosen, &all_ms, &chosen_ms)) {
      notes.push_back(fmt::format(
          "every unit quantized ran faster end to end than keeping {} in float ({:.4f} ms "
          "against {:.4f} ms): all are kept quantized (eq. (148))",
          n - count(quantized), all_ms, chosen_ms));
      say(notes.back());
      quantized = every;
      r.every_unit_quantized = true;
      std::fill(r.kept_by.begin(), r.kept_by.end(), "");
    }
  }
  Model model;
  if (max_drop && count(quantized) > 0) {
    // The accuracy search runs on the units left quantized; those kept for latency stay float.
    std::vector<bool> in_float(n);
    for (size_t u = 0; u < n; ++u) in_float[u] = !quantized[u];
    trials.keep_in_float(in_float);
    MixedPrecisionResult a = search_mixed_precision(trials, options.max_drop_points, so.progress);
    for (const UnitSensitivity& k : a.kept) {
      for (size_t u = 0; u < n; ++u) {
        if (units[u].name != k.unit.name || !quantized[u]) continue;
        kept_higher[u] = true;
        r.kept_by[u] = "accuracy";
        // w8a8 keeps the unit in float; a low-bit model keeps it quantized at 8 bits.
        if (so.weight_bits == 8) quantized[u] = false;
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
    model = count(quantized) == n ? every_model : build(quantized, &r.report);
    if (count(quantized) == n) r.report = every_report;
  }
  std::vector<double> float_ms;
  for (const UnitLatency& u : choice.units) float_ms.push_back(u.float_ms);
  LatencyCheck check = ensure_not_slower(
      float_ms, groups, quantized, std::move(model), fp32,
      [&](const std::vector<bool>& q) { return build(q, nullptr); }, *timer, say);
  for (size_t u = 0; u < n; ++u) {
    if (quantized[u] && !check.low[u]) r.kept_by[u] = "fallback";
  }
  if (check.fp32_written) {
    r.report = QuantizeReport{};
  } else if (check.fallback_rounds > 0) {
    check.model = build(check.low, &r.report);
  }
  for (const auto& note : notes) r.report.notes.push_back(note);
  for (const auto& note : check.notes) r.report.notes.push_back(note);
  if (check.fallback_rounds > 0 && r.accuracy) {
    r.report.notes.push_back(
        "the top-1 of --max-drop was measured before the latency fallback kept more units in "
        "float");
  }
  r.units = choice.units;
  for (size_t u = 0; u < n; ++u) r.units[u].kept_float = !check.low[u];
  r.model = std::move(check.model);
  r.fp32_ms = check.fp32_ms;
  r.result_ms = check.result_ms;
  r.fallback_rounds = check.fallback_rounds;
  r.fp32_written = check.fp32_written;
  return r;
}

}  // namespace quench

// search_kept_prefix and quantize_mixed_precision (include/quench/sensitivity.h); the algorithm
// is docs/quantization.md eqs. (113)-(116).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>

#include "core/check.h"
#include "quench/sensitivity.h"

namespace quench {

int64_t prefix_search_bound(size_t units) {
  // eq. (116): k = 0 and k = n, then ceil(log2 n) halvings of (0, n].
  int64_t halvings = 0;
  while ((size_t{1} << halvings) < units) ++halvings;
  return units == 0 ? 1 : 2 + halvings;
}

PrefixSearchResult search_kept_prefix(size_t units, double target,
                                      const std::function<double(size_t)>& score) {
  PrefixSearchResult r;
  auto eval = [&](size_t k) {
    ++r.evaluations;
    return score(k);
  };
  // eq. (113): nothing kept.
  const double none = eval(0);
  if (none >= target || units == 0) {
    r.kept = 0;
    r.score = none;
    r.met = none >= target;
    return r;
  }
  // eq. (114): everything kept; if that misses, the budget cannot be met.
  const double all = eval(units);
  if (all < target) {
    r.met = false;
    r.kept = all >= none ? units : 0;
    r.score = std::max(all, none);
    return r;
  }
  // eq. (115): the smallest k in (lo, hi] with score(k) >= target; score(lo) misses, score(hi)
  // meets.
  size_t lo = 0, hi = units;
  double hi_score = all;
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    const double s = eval(mid);
    if (s >= target) {
      hi = mid;
      hi_score = s;
    } else {
      lo = mid;
    }
  }
  r.kept = hi;
  r.score = hi_score;
  r.met = true;
  return r;
}

namespace {

void check_budget(bool labels, double max_drop_points) {
  QUENCH_CHECK(labels, ErrorKind::kInvalidArgument,
               "--max-drop needs labeled validation data (--val): the budget is in top-1 points "
               "against FP32, and the validation data has no labels");
  QUENCH_CHECK(std::isfinite(max_drop_points) && max_drop_points >= 0, ErrorKind::kInvalidArgument,
               "--max-drop expects a non-negative number of top-1 points, got {}", max_drop_points);
}

}  // namespace

MixedPrecisionResult quantize_mixed_precision(const Model& fp32, const Dataset& calib,
                                              const Dataset& val, const QuantRecipe& recipe,
                                              double max_drop_points,
                                              const SensitivityOptions& options) {
  check_budget(val.has_labels(), max_drop_points);  // before the calibration
  const auto start = std::chrono::steady_clock::now();
  MixedPrecisionTrials trials(fp32, calib, val, recipe, options);
  MixedPrecisionResult r = search_mixed_precision(trials, max_drop_points, options.progress);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

MixedPrecisionResult search_mixed_precision(MixedPrecisionTrials& trials, double max_drop_points,
                                            bool progress) {
  check_budget(trials.has_labels(), max_drop_points);
  const auto start = std::chrono::steady_clock::now();
  MixedPrecisionResult r;
  const size_t n = trials.units().size();
  const std::vector<bool>& fixed = trials.in_float();
  const auto searched = static_cast<size_t>(std::count(fixed.begin(), fixed.end(), false));
  r.units = static_cast<int64_t>(searched);
  r.target = trials.fp32_score() - max_drop_points / 100.0;
  r.search_bound = prefix_search_bound(searched);
  // eq. (113) first: when every unit at the requested precision meets the budget, nothing is
  // kept and no ranking is needed (2 evaluations with FP32's).
  const std::vector<bool> every(n, true);
  const double all_quantized = trials.score(trials.build(every));
  if (all_quantized >= r.target || searched == 0) {
    r.sensitivity.metric = trials.metric();
    r.sensitivity.baseline_fp32 = trials.fp32_score();
    r.sensitivity.higher_precision = std::numeric_limits<double>::quiet_NaN();
    r.sensitivity.all_quantized = all_quantized;
    r.model = trials.build(every, &r.report);
    r.reached = all_quantized;
    r.met = all_quantized >= r.target;
    r.evaluations = trials.evaluations();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return r;
  }
  // eq. (111): the ranking from the trials with only one unit quantized (U evaluations).
  r.sensitivity = analyze_sensitivity(trials, false, progress, all_quantized);
  std::vector<size_t> order;  // unit index in trials.units() of each ranked unit
  for (const UnitSensitivity& s : r.sensitivity.units) {
    for (size_t u = 0; u < n; ++u) {
      if (trials.units()[u].name == s.unit.name) order.push_back(u);
    }
  }
  // The ranking already scored k = 0 (all quantized) and k = U (none); the search reuses them.
  std::map<size_t, double> known = {{0, r.sensitivity.all_quantized},
                                    {searched, r.sensitivity.higher_precision}};
  auto low_for = [&](size_t k) {
    std::vector<bool> low(n, true);
    for (size_t i = 0; i < k; ++i) low[order[i]] = false;
    return low;
  };
  const PrefixSearchResult found = search_kept_prefix(searched, r.target, [&](size_t k) {
    auto it = known.find(k);
    if (it != known.end()) return it->second;
    return known[k] = trials.score(trials.build(low_for(k)));
  });
  r.model = trials.build(low_for(found.kept), &r.report);
  r.reached = found.score;
  r.met = found.met;
  for (size_t i = 0; i < found.kept; ++i) r.kept.push_back(r.sensitivity.units[i]);
  r.evaluations = trials.evaluations();
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace quench

#include "calib/range_rules.h"

#include <algorithm>
#include <cmath>

#include "calib/linear_rebin.h"

namespace quench::calib {
namespace {

// The value below which a share `fraction` of the values lie, interpolated linearly within the
// grid bin where that rank falls, eq. (11). Bins are clipped to [min, max], so fraction 0 gives
// min and fraction 1 gives max.
double quantile(const std::vector<std::pair<int, int64_t>>& bins, int64_t total, float min,
                float max, double fraction) {
  const double rank = fraction * double(total);
  double below = 0;  // values in the bins before the current one
  for (const auto& [bin, count] : bins) {
    if (below + double(count) >= rank) {
      const FloatHistogram::Interval grid = FloatHistogram::bin_interval(bin);
      const double lo = std::clamp(grid.lo, double(min), double(max));
      const double hi = std::clamp(grid.hi, double(min), double(max));
      const double within = std::clamp((rank - below) / double(count), 0.0, 1.0);
      return lo + within * (hi - lo);
    }
    below += double(count);
  }
  return max;
}

double xlogx(double x) { return x > 0 ? x * std::log(x) : 0.0; }

}  // namespace

CalibratedRange percentile_range(const FloatHistogram& histogram, float min, float max,
                                 double percentile) {
  if (percentile >= 100) return {min, max};
  const auto bins = histogram.nonzero_bins();
  int64_t total = 0;
  for (const auto& bin : bins) total += bin.second;
  // eq. (12): a bound on the far side of zero is widened to zero by the quantizer anyway, so the
  // data's own extreme is kept there.
  const double tail = (100 - percentile) / 200;
  const double lo = min >= 0 ? min : quantile(bins, total, min, max, tail);
  const double hi = max <= 0 ? max : quantile(bins, total, min, max, 1 - tail);
  return {float(lo), float(hi)};
}

int entropy_threshold_bins(const std::vector<double>& magnitudes, int levels) {
  const int bins = int(magnitudes.size());
  if (levels >= bins) return bins;
  // Prefix sums over bins [0, k): mass, mass·log(mass) and non-empty bins; suffix mass from k.
  std::vector<double> mass(bins + 1, 0.0), mass_log_mass(bins + 1, 0.0), tail(bins + 1, 0.0);
  std::vector<int> nonempty(bins + 1, 0);
  for (int k = 0; k < bins; ++k) {
    mass[k + 1] = mass[k] + magnitudes[k];
    mass_log_mass[k + 1] = mass_log_mass[k] + xlogx(magnitudes[k]);
    nonempty[k + 1] = nonempty[k] + (magnitudes[k] > 0 ? 1 : 0);
  }
  for (int k = bins - 1; k >= 0; --k) tail[k] = tail[k + 1] + magnitudes[k];
  const double total = tail[0];
  if (!(total > 0)) return bins;

  int best = bins;
  double best_divergence = INFINITY;
  for (int kept = levels; kept <= bins; ++kept) {
    // eq. (13): P is bins [0, kept) with the clipped tail added to the last one; Q spreads the
    // mass of each of `levels` groups of bins (without the tail) over the group's bins where
    // P is non-empty.
    const double clipped = tail[kept];
    const double inside = mass[kept];
    const double last_p = magnitudes[kept - 1] + clipped;
    double p_log_p = mass_log_mass[kept - 1] + xlogx(last_p);
    double p_log_q = 0;
    bool smoothed = false;
    for (int level = 0; level < levels; ++level) {
      const int first = int(int64_t(level) * kept / levels);
      const int end = int(int64_t(level + 1) * kept / levels);
      const bool last_group = level == levels - 1;
      const double q_mass = mass[end] - mass[first];
      int q_bins = nonempty[end] - nonempty[first];
      double p_mass = q_mass;
      if (last_group) {
        p_mass += clipped;
        if (magnitudes[kept - 1] == 0 && clipped > 0) ++q_bins;
      }
      if (!(p_mass > 0)) continue;
      if (!(q_mass > 0)) {
        // Only the last group can get here: a tail clipped past a gap. eq. (14) gives it the
        // probability kEntropySmoothing.
        smoothed = true;
        p_log_p -= xlogx(last_p);
        continue;
      }
      p_log_q += p_mass * std::log(q_mass / q_bins);
    }
    // eq. (14) in counts: KL = (Σ P log P − Σ P log Q) / T + log(M / T), M the mass of Q.
    double divergence;
    if (!smoothed) {
      divergence = (p_log_p - p_log_q) / total + std::log(inside / total);
    } else {
      const double rest =
          inside > 0 ? (p_log_p - p_log_q) / total +
                           inside / total * std::log(inside / (total * (1 - kEntropySmoothing)))
                     : 0.0;
      divergence = rest + clipped / total * std::log(clipped / (total * kEntropySmoothing));
    }
    // Equal divergences (to rounding) favour the larger threshold: it clips less.
    if (divergence <= best_divergence + kEntropyTieTolerance) {
      best_divergence = std::min(best_divergence, divergence);
      best = kept;
    }
  }
  return best;
}

namespace {

// eqs. (13)-(15) on one side of zero: the magnitude beyond which values are clipped, searched on
// that side's values with `levels` integer levels. Exact zeros are left out: zero is exactly
// representable, so they add no quantization error and would only weigh on the first level.
double entropy_side_threshold(const FloatHistogram& histogram, float min, float max, double extent,
                              int levels, RebinSide side) {
  const LinearBins bins{0.0, extent / kLinearBins, kLinearBins};
  const auto magnitudes = linear_rebin(histogram, min, max, bins,
                                       {.magnitudes = true, .skip_zeros = true, .side = side});
  const int kept = entropy_threshold_bins(magnitudes, std::max(levels, 2));
  return std::min((kept + 0.5) * bins.width, extent);
}

}  // namespace

CalibratedRange entropy_range(const FloatHistogram& histogram, float min, float max,
                              int quant_levels) {
  // eq. (15a): each side of zero gets the share of the integer levels its extent takes of the
  // whole range, so non-negative data (after ReLU) uses all of them, as an unsigned target does.
  const double neg = std::max(0.0, -double(min)), pos = std::max(0.0, double(max));
  if (neg + pos == 0) return {min, max};
  const int neg_levels = int(std::lround(quant_levels * neg / (neg + pos)));
  const double lo =
      neg > 0 ? -entropy_side_threshold(histogram, min, max, neg, neg_levels, RebinSide::kNegative)
              : double(min);
  const double hi = pos > 0
                        ? entropy_side_threshold(histogram, min, max, pos,
                                                 quant_levels - neg_levels, RebinSide::kPositive)
                        : double(max);
  return {float(std::max(double(min), lo)), float(std::min(double(max), hi))};
}

MseChoice mse_search(const std::vector<double>& bins, double zero, int quant_levels) {
  const int count = int(bins.size());
  std::vector<double> mass(count + 1, 0.0);
  for (int k = 0; k < count; ++k) mass[k + 1] = mass[k] + bins[k];
  // The clipping error of each tail, eq. (16), for every edge position. With `moment` the sum of
  // count × distance (in bins) from the clipped bins to the edge, moving the edge one bin inward
  // adds 2·moment + (the newly clipped bin)/3. Sums of non-negative terms: no cancellation.
  std::vector<double> low_error(count, 0.0), high_error(count, 0.0);
  double clipped = 0, moment = 0;
  for (int first = 1; first < count; ++first) {
    low_error[first] = low_error[first - 1] + 2 * moment + bins[first - 1] / 3;
    moment += clipped + bins[first - 1];
    clipped += bins[first - 1];
  }
  clipped = moment = 0;
  for (int last = count - 2; last >= 0; --last) {
    high_error[last] = high_error[last + 1] + 2 * moment + bins[last + 1] / 3;
    moment += clipped + bins[last + 1];
    clipped += bins[last + 1];
  }
  // eq. (17): the quantizer's range includes zero, so a kept range that does not reach zero's
  // bin would not clip what lies between it and zero; only ranges over that bin are candidates.
  const int zero_bin = int(std::clamp(std::floor(zero), 0.0, double(count - 1)));
  const double steps = quant_levels - 1;
  // eq. (18): every such pair of bin edges; ties keep the lowest first, then the highest last.
  MseChoice best{0, count - 1, INFINITY};
  for (int first = 0; first <= zero_bin; ++first) {
    const double range_low = std::min(double(first), zero);
    for (int last = count - 1; last >= zero_bin; --last) {
      const double step = (std::max(double(last + 1), zero) - range_low) / steps;
      const double error =
          (mass[last + 1] - mass[first]) * step * step / 12 + low_error[first] + high_error[last];
      if (error < best.error) best = {first, last, error};
    }
  }
  return best;
}

CalibratedRange mse_range(const FloatHistogram& histogram, float min, float max, int quant_levels) {
  if (!(max > min)) return {min, max};
  const LinearBins bins{double(min), (double(max) - double(min)) / kLinearBins, kLinearBins};
  // Zeros are represented exactly (eq. (17) keeps 0 in the range): they carry no error, eq. (16).
  const auto linear = linear_rebin(histogram, min, max, bins, {.skip_zeros = true});
  const MseChoice choice = mse_search(linear, -bins.origin / bins.width, quant_levels);
  const double lo = choice.first == 0 ? double(min) : bins.origin + choice.first * bins.width;
  const double hi =
      choice.last == kLinearBins - 1 ? double(max) : bins.origin + (choice.last + 1) * bins.width;
  return {float(lo), float(hi)};
}

}  // namespace quench::calib

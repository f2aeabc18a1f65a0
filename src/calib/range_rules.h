// The range rules that read a fixed-grid histogram (docs/quantization.md eqs. (10)-(18)).
// Every rule gets the histogram of the finite values and their exact extremes min <= max, with at
// least one value observed.
#pragma once

#include <vector>

#include "calib/float_histogram.h"
#include "quench/calibration.h"

namespace quench::calib {

// Linear bins used by the entropy and MSE rules.
inline constexpr int kLinearBins = 2048;

// The central `percentile` % of the values, eqs. (11)-(12).
CalibratedRange percentile_range(const FloatHistogram& histogram, float min, float max,
                                 double percentile);

// TensorRT's entropy calibration on |x|, eqs. (13)-(15).
CalibratedRange entropy_range(const FloatHistogram& histogram, float min, float max,
                              int quant_levels);

// The minimal expected squared error, eqs. (16)-(18).
CalibratedRange mse_range(const FloatHistogram& histogram, float min, float max, int quant_levels);

// The steps of the rules, on linear histograms (exposed for tests).

// The entropy rule's threshold: the number i of linear bins kept that minimizes the KL divergence
// of eq. (14), from min(quant_levels / 2, bins) to bins; the first on ties.
int entropy_threshold_bins(const std::vector<double>& magnitudes, int levels);
// Normalized probability a lone clipped tail is given where the candidate distribution has no
// mass (eq. (14)); without it such candidates would have infinite divergence.
inline constexpr double kEntropySmoothing = 1e-4;
// Divergences closer than this are equal: the sums of eq. (14) carry rounding of this order.
inline constexpr double kEntropyTieTolerance = 1e-12;

// The MSE rule's search, eq. (18): the kept bins [first, last] with the least error, eq. (16),
// in units of the squared bin width, over all pairs. `zero` is the position of x = 0 in bins from
// the left edge.
struct MseChoice {
  int first = 0;
  int last = 0;
  double error = 0;
};
MseChoice mse_search(const std::vector<double>& bins, double zero, int quant_levels);

}  // namespace quench::calib

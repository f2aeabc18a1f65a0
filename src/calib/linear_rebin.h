// Re-binning the fixed-grid histogram onto linear bins, for the range rules that work on
// equal-width bins (entropy, MSE): docs/quantization.md eq. (10).
#pragma once

#include <vector>

#include "calib/float_histogram.h"

namespace quench::calib {

struct LinearBins {
  double origin = 0;  // left edge of bin 0
  double width = 0;   // > 0
  int count = 0;
};

enum class RebinSide { kBoth, kPositive, kNegative };

struct RebinOptions {
  bool magnitudes = false;            // the histogram of |x|
  bool skip_zeros = false;            // leave out the zero bin (|x| < 2^-126)
  RebinSide side = RebinSide::kBoth;  // only the bins above (below) zero
};

// Spreads every grid bin's count uniformly over its interval clipped to [min, max] (the exact
// extremes of the data), then sums what falls in each linear bin; mass outside the linear bins
// (rounding only) goes to the nearest end bin.
std::vector<double> linear_rebin(const FloatHistogram& histogram, float min, float max,
                                 const LinearBins& bins, RebinOptions options = {});

}  // namespace quench::calib

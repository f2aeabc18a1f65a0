#include "calib/linear_rebin.h"

#include <algorithm>
#include <cmath>

namespace quench::calib {

std::vector<double> linear_rebin(const FloatHistogram& histogram, float min, float max,
                                 const LinearBins& bins, RebinOptions options) {
  std::vector<double> out(bins.count, 0.0);
  const double end = bins.count;
  for (const auto& [bin, count] : histogram.nonzero_bins()) {
    if (options.skip_zeros && bin == FloatHistogram::kZeroBin) continue;
    const FloatHistogram::Interval grid = FloatHistogram::bin_interval(bin);
    if (options.side == RebinSide::kPositive && grid.hi <= 0) continue;
    if (options.side == RebinSide::kNegative && grid.lo >= 0) continue;
    double lo = std::clamp(grid.lo, double(min), double(max));
    double hi = std::clamp(grid.hi, double(min), double(max));
    if (options.magnitudes) {
      // Only the zero bin straddles 0; its values all lie within 2^-126 of 0.
      if (hi <= 0) {
        const double negative_lo = lo;
        lo = -hi;
        hi = -negative_lo;
      } else if (lo < 0) {
        hi = std::max(-lo, hi);
        lo = 0;
      }
    }
    // Positions in units of linear bins.
    const double from = std::clamp((lo - bins.origin) / bins.width, 0.0, end);
    const double to = std::clamp((hi - bins.origin) / bins.width, 0.0, end);
    const int first = std::min(int(from), bins.count - 1);
    if (!(to > from)) {
      out[first] += double(count);
      continue;
    }
    const int last = std::min(int(std::ceil(to)) - 1, bins.count - 1);
    const double density = double(count) / (to - from);
    for (int k = first; k <= last; ++k) {
      const double overlap = std::min(to, double(k + 1)) - std::max(from, double(k));
      out[k] += density * overlap;
    }
  }
  return out;
}

}  // namespace quench::calib

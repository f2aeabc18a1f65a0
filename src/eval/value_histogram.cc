#include "eval/value_histogram.h"

#include <algorithm>
#include <cmath>

namespace quench {

void reset_histogram(ValueHistogram& h, double lo, double hi, int bins) {
  if (!(hi > lo)) hi = lo + 1e-6;  // one value only: a narrow range around it
  h.lo = lo;
  h.hi = hi;
  h.counts.assign(static_cast<size_t>(std::max(bins, 1)), 0);
  h.below = h.above = 0;
}

void add_to_histogram(ValueHistogram& h, const float* values, int64_t n) {
  const int64_t bins = static_cast<int64_t>(h.counts.size());
  const double per_unit = static_cast<double>(bins) / (h.hi - h.lo);
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (std::isnan(v)) continue;
    if (v < h.lo) {
      ++h.below;
    } else if (v >= h.hi) {
      ++h.above;
    } else {
      const int64_t bin = std::min(bins - 1, static_cast<int64_t>((v - h.lo) * per_unit));
      ++h.counts[static_cast<size_t>(bin)];
    }
  }
}

}  // namespace quench

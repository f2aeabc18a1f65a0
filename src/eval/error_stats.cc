#include "eval/error_stats.h"

#include <cmath>
#include <limits>

namespace quench {

void ErrorStats::add(const float* a, const float* b, int64_t n) {
  double aa = 0, bb = 0, ab = 0, noise = 0, max_abs = max_abs_;
  for (int64_t i = 0; i < n; ++i) {
    const double x = a[i], y = b[i], d = x - y;
    aa += x * x;
    bb += y * y;
    ab += x * y;
    noise += d * d;
    max_abs = std::max(max_abs, std::abs(d));
  }
  aa_ += aa;
  bb_ += bb;
  ab_ += ab;
  noise_ += noise;
  max_abs_ = max_abs;
  count_ += n;
}

void ErrorStats::finish(TensorComparison& out) const {
  out.elements = count_;
  out.mse = count_ ? noise_ / static_cast<double>(count_) : 0;  // eq. (93)
  out.max_abs = max_abs_;                                       // eq. (94)
  // eq. (91): a signal of zeros against any noise is -inf dB; no noise at all is +inf.
  if (noise_ == 0) {
    out.sqnr_db = std::numeric_limits<double>::infinity();
  } else {
    out.sqnr_db =
        aa_ == 0 ? -std::numeric_limits<double>::infinity() : 10.0 * std::log10(aa_ / noise_);
  }
  // eq. (92): two all-zero tensors are identical (1); one all-zero against another is 0.
  if (aa_ == 0 && bb_ == 0) {
    out.cosine = 1;
  } else if (aa_ == 0 || bb_ == 0) {
    out.cosine = 0;
  } else {
    out.cosine = ab_ / std::sqrt(aa_ * bb_);
  }
}

}  // namespace quench

#include "eval/error_stats.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

namespace quench {
namespace {

// GCC vector types: eight lanes, lowered to the instruction set each clone below is built for.
using Floats8 = float __attribute__((vector_size(32)));
using Doubles8 = double __attribute__((vector_size(64)));

// The five sums of eqs. (91)-(94) over n element pairs: Σx², Σy², Σxy, Σ(x−y)², max |x−y|, in
// eight independent lanes of each; compiled for AVX-512, AVX2 and the baseline, the CPU's chosen
// at load (GCC's target_clones).
__attribute__((target_clones("avx512f", "avx2", "default"))) void sums(const float* a,
                                                                       const float* b, int64_t n,
                                                                       double out[5]) {
  Doubles8 aa = {}, bb = {}, ab = {}, noise = {}, top = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    Floats8 fa, fb;
    std::memcpy(&fa, a + i, sizeof fa);
    std::memcpy(&fb, b + i, sizeof fb);
    const Doubles8 x = __builtin_convertvector(fa, Doubles8);
    const Doubles8 y = __builtin_convertvector(fb, Doubles8);
    const Doubles8 d = x - y;
    aa += x * x;
    bb += y * y;
    ab += x * y;
    noise += d * d;
    const Doubles8 ad = d < 0 ? -d : d;
    top = ad > top ? ad : top;
  }
  for (int k = 0; k < 5; ++k) out[k] = 0;
  for (int l = 0; l < 8; ++l) {
    out[0] += aa[l];
    out[1] += bb[l];
    out[2] += ab[l];
    out[3] += noise[l];
    out[4] = std::max(out[4], top[l]);
  }
  for (; i < n; ++i) {
    const double x = a[i], y = b[i], d = x - y;
    out[0] += x * x;
    out[1] += y * y;
    out[2] += x * y;
    out[3] += d * d;
    out[4] = std::max(out[4], std::abs(d));
  }
}

}  // namespace

void ErrorStats::add(const float* a, const float* b, int64_t n) {
  double s[5];
  sums(a, b, n, s);
  aa_ += s[0];
  bb_ += s[1];
  ab_ += s[2];
  noise_ += s[3];
  max_abs_ = std::max(max_abs_, s[4]);
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

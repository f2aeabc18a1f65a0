#include "quant/lowbit/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"
#include "core/requantize.h"
#include "quant/lowbit/cholesky.h"
#include "quant/lowbit/dense.h"

namespace quench::quant::lowbit {
namespace {

// One group: w is r × k (row-major, modified), h is k × k.
void gptq_group(float* w, int64_t r, int64_t k, std::vector<double> h, const float* scales,
                bool per_row, int32_t qmax, const GptqOptions& o, int8_t* q) {
  // Inputs that are always zero: their weights do not matter; eq. (71) keeps H invertible.
  for (int64_t i = 0; i < k; ++i) {
    if (h[i * k + i] > 0.0) continue;
    h[i * k + i] = 1.0;
    for (int64_t row = 0; row < r; ++row) w[row * k + i] = 0.f;
  }
  std::vector<int64_t> perm(static_cast<size_t>(k));
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order) {  // eq. (72)
    std::stable_sort(perm.begin(), perm.end(),
                     [&](int64_t a, int64_t b) { return h[a * k + a] > h[b * k + b]; });
  }
  std::vector<double> hp(static_cast<size_t>(k * k));
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < k; ++j) hp[i * k + j] = h[perm[i] * k + perm[j]];
  }
  std::vector<float> wp(static_cast<size_t>(r * k));
  for (int64_t row = 0; row < r; ++row) {
    for (int64_t j = 0; j < k; ++j) wp[row * k + j] = w[row * k + perm[j]];
  }
  double mean_diag = 0.0;
  for (int64_t i = 0; i < k; ++i) mean_diag += hp[i * k + i];
  mean_diag /= static_cast<double>(k);
  std::vector<double> ud;
  // Eq. (71); a Hessian that rounding left indefinite gets more dampening.
  bool ok = false;
  for (double damp = o.damp; !ok && damp <= 1e3; damp *= 10.0) {
    std::vector<double> hd = hp;
    for (int64_t i = 0; i < k; ++i) hd[i * k + i] += damp * mean_diag;
    ok = inverse_cholesky_upper(hd, k, ud);  // eq. (73)
  }
  QUENCH_CHECK(ok, ErrorKind::kInternal, "GPTQ: the layer's Hessian is not positive definite");
  const std::vector<float> u(ud.begin(), ud.end());
  const int64_t block = std::max<int64_t>(1, o.block);
  std::vector<float> err(static_cast<size_t>(r * block));
  for (int64_t i1 = 0; i1 < k; i1 += block) {
    const int64_t i2 = std::min(k, i1 + block);
    for (int64_t i = i1; i < i2; ++i) {
      const float d = u[i * k + i];
      for (int64_t row = 0; row < r; ++row) {
        const float s = scales[per_row ? row : 0];
        float* wr = &wp[row * k];
        const float v = std::clamp(round_half_even(wr[i] / s), static_cast<float>(-qmax),
                                   static_cast<float>(qmax));  // eq. (74)
        q[row * k + perm[i]] = static_cast<int8_t>(v);
        const float e = (wr[i] - v * s) / d;
        err[row * block + (i - i1)] = e;
        const float* ui = &u[i * k];
        for (int64_t j = i + 1; j < i2; ++j) wr[j] -= e * ui[j];
      }
    }
    // Eq. (75): the block's errors reach the remaining columns in one update.
    for (int64_t row = 0; row < r; ++row) {
      float* wr = &wp[row * k];
      for (int64_t t = 0; t < i2 - i1; ++t) {
        const float e = err[row * block + t];
        const float* ut = &u[(i1 + t) * k];
        for (int64_t j = i2; j < k; ++j) wr[j] -= e * ut[j];
      }
    }
  }
}

}  // namespace

std::vector<int8_t> gptq(const LayerShape& s, const std::vector<float>& w, const float* x,
                         int64_t m, const std::vector<float>& scales, int32_t qmax,
                         const GptqOptions& options) {
  std::vector<int8_t> q(w.size());
  std::vector<float> work = w;
  const int64_t r = s.group_rows(), k = s.cols;
  const bool per_row = scales.size() > 1;
  for (int64_t g = 0; g < s.groups; ++g) {
    std::vector<double> h = gram(x, m, s.x_cols(), g * k, k);  // eq. (70)
    gptq_group(&work[g * r * k], r, k, std::move(h), per_row ? &scales[g * r] : scales.data(),
               per_row, qmax, options, &q[g * r * k]);
  }
  return q;
}

}  // namespace quench::quant::lowbit

#include "quant/lowbit/float_target.h"

#include <algorithm>

#include "core/check.h"
#include "quant/lowbit/cholesky.h"
#include "quant/lowbit/dense.h"

namespace quench::quant::lowbit {
namespace {

// The lower Cholesky factor of H + λ·mean(diag H)·I, with inputs that are always zero given a
// unit diagonal (as GPTQ's sweep treats them) and more dampening where rounding left H
// indefinite (eq. (71)).
std::vector<double> damped_factor(std::vector<double> h, int64_t k, double damp) {
  double mean_diag = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    if (h[i * k + i] <= 0.0) h[i * k + i] = 1.0;
    mean_diag += h[i * k + i];
  }
  mean_diag /= static_cast<double>(k);
  for (double d = damp; d <= 1e3; d = d > 0.0 ? d * 10.0 : 1e-6) {
    std::vector<double> l = h;
    for (int64_t i = 0; i < k; ++i) l[i * k + i] += d * mean_diag;
    if (cholesky_lower(l, k)) return l;
  }
  QUENCH_CHECK(false, ErrorKind::kInternal, "GPTQ: the layer's Hessian is not positive definite");
  return {};
}

}  // namespace

void move_to_float_target(float* w, int64_t r, int64_t k, const std::vector<double>& h,
                          const float* x, const float* x_fp, int64_t m, int64_t ld, int64_t col0,
                          double damp) {
  if (m == 0 || r == 0 || k == 0) return;
  // T = X̃ᵀ·(ΔX·Wᵀ) / m (k × r), ΔX = X − X̃: each row's ΔX·Wᵀ as r dots, spread over T by
  // the row of X̃; sums in float within a chunk of rows, chunks in double.
  constexpr int64_t kChunk = 256;
  std::vector<double> t(static_cast<size_t>(k * r), 0.0);
  std::vector<float> tc(static_cast<size_t>(k * r)), dx(static_cast<size_t>(k)),
      d(static_cast<size_t>(r));
  for (int64_t r0 = 0; r0 < m; r0 += kChunk) {
    std::fill(tc.begin(), tc.end(), 0.f);
    for (int64_t i = r0; i < std::min(m, r0 + kChunk); ++i) {
      const float* xq = x + i * ld + col0;
      const float* xf = x_fp + i * ld + col0;
      bool moved = false;
      for (int64_t c = 0; c < k; ++c) {
        dx[c] = xf[c] - xq[c];
        moved = moved || dx[c] != 0.f;
      }
      if (!moved) continue;
      for (int64_t row = 0; row < r; ++row) d[row] = dot(dx.data(), w + row * k, k);
      for (int64_t b = 0; b < k; ++b) {
        const float xb = xq[b];
        if (xb == 0.f) continue;
        float* tb = &tc[b * r];
#pragma omp simd
        for (int64_t row = 0; row < r; ++row) tb[row] += xb * d[row];
      }
    }
    for (size_t i = 0; i < t.size(); ++i) t[i] += tc[i];
  }
  for (double& v : t) v /= static_cast<double>(m);
  // Eq. (159): (H + λ)·S = T, all r columns of S at once; W* = W + Sᵀ.
  cholesky_solve(damped_factor(h, k, damp), k, t.data(), r);
  for (int64_t row = 0; row < r; ++row) {
    for (int64_t b = 0; b < k; ++b) w[row * k + b] += static_cast<float>(t[b * r + row]);
  }
}

}  // namespace quench::quant::lowbit

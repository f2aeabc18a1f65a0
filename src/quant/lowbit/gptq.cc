#include "quant/lowbit/gptq.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"
#include "core/requantize.h"
#include "quant/lowbit/cholesky.h"
#include "quant/lowbit/dense.h"
#include "quant/lowbit/float_target.h"

namespace quench::quant::lowbit {
namespace {

// One group: w is r × k (row-major, modified), h is k × k. `round(row, i, c, wr)` rounds
// wr[i], the current value of row `row` at sweep position i (original column c; wr is the
// row in sweep order), stores the integer and returns the value it stands for.
template <typename Round>
void gptq_group(float* w, int64_t r, int64_t k, std::vector<double> h, const GptqOptions& o,
                Round round) {
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
  for (double damp = o.damp; !ok && damp <= 1e3; damp = damp > 0.0 ? damp * 10.0 : 1e-6) {
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
        float* wr = &wp[row * k];
        const float e = (wr[i] - round(row, i, perm[i], wr)) / d;
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
                         const GptqOptions& options, const float* x_fp) {
  std::vector<int8_t> q(w.size());
  std::vector<float> work = w;
  const int64_t r = s.group_rows(), k = s.cols;
  const bool per_row = scales.size() > 1;
  for (int64_t g = 0; g < s.groups; ++g) {
    std::vector<double> h = gram(x, m, s.x_cols(), g * k, k);  // eq. (70)
    if (x_fp != nullptr) {
      move_to_float_target(&work[g * r * k], r, k, h, x, x_fp, m, s.x_cols(), g * k,
                           options.damp);  // eq. (159)
    }
    const float* sg = per_row ? &scales[g * r] : scales.data();
    int8_t* qg = &q[g * r * k];
    gptq_group(&work[g * r * k], r, k, std::move(h), options,
               [&](int64_t row, int64_t i, int64_t c, const float* wr) {
                 const float s = sg[per_row ? row : 0];
                 const float v = std::clamp(round_half_even(wr[i] / s), static_cast<float>(-qmax),
                                            static_cast<float>(qmax));  // eq. (74)
                 qg[row * k + c] = static_cast<int8_t>(v);
                 return v * s;
               });
  }
  return q;
}

BlockGrid block_grid(const float* v, int64_t n, int32_t levels) {
  float lo = 0.f, hi = 0.f;  // the range holds 0, so that 0 is exact (eq. (88))
  for (int64_t i = 0; i < n; ++i) {
    lo = std::min(lo, v[i]);
    hi = std::max(hi, v[i]);
  }
  BlockGrid g;
  g.scale = hi > lo ? (hi - lo) / static_cast<float>(levels) : 1.f;
  g.zero_point = static_cast<int32_t>(
      std::clamp(std::nearbyint(-lo / g.scale), 0.f, static_cast<float>(levels)));
  return g;
}

int32_t BlockGrid::quantize(float v, int32_t levels) const {
  return static_cast<int32_t>(std::clamp(std::nearbyint(v / scale) + static_cast<float>(zero_point),
                                         0.f, static_cast<float>(levels)));
}

BlockwiseWeights round_blockwise(int64_t rows, int64_t cols, const std::vector<float>& w,
                                 int64_t block, int32_t levels) {
  BlockwiseWeights b;
  b.blocks = (cols + block - 1) / block;
  b.q.resize(static_cast<size_t>(rows * cols));
  b.grids.resize(static_cast<size_t>(rows * b.blocks));
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t j = 0; j < b.blocks; ++j) {
      const int64_t c0 = j * block, c1 = std::min(cols, c0 + block);
      const BlockGrid g = block_grid(&w[row * cols + c0], c1 - c0, levels);
      b.grids[row * b.blocks + j] = g;
      for (int64_t c = c0; c < c1; ++c) {
        b.q[row * cols + c] = static_cast<uint8_t>(g.quantize(w[row * cols + c], levels));
      }
    }
  }
  return b;
}

BlockwiseWeights gptq_blockwise(int64_t rows, int64_t cols, const std::vector<float>& w,
                                const float* x, int64_t m, int64_t block, int32_t levels,
                                const GptqOptions& options) {
  QUENCH_CHECK(block > 0, ErrorKind::kInvalidArgument, "GPTQ: block size must be positive, got {}",
               block);
  // With act-order the groups stay in the original column order and their grids are fixed
  // from the weights before the sweep ("static groups", eq. (124)); in natural order each
  // group's grid is chosen when the sweep reaches its first column, from the weights as the
  // earlier columns' errors left them (eq. (123)).
  BlockwiseWeights b = round_blockwise(rows, cols, w, block, levels);
  std::vector<float> work = w;
  std::vector<double> h = gram(x, m, cols, 0, cols);  // eq. (70)
  gptq_group(work.data(), rows, cols, std::move(h), options,
             [&](int64_t row, int64_t i, int64_t c, const float* wr) {
               const int64_t j = c / block;
               BlockGrid& g = b.grids[row * b.blocks + j];
               if (!options.act_order && c % block == 0) {
                 // Natural order: sweep position i is column c, the group is wr[i, i + block).
                 g = block_grid(&wr[i], std::min(cols, c + block) - c, levels);
               }
               const int32_t v = g.quantize(wr[i], levels);
               b.q[row * cols + c] = static_cast<uint8_t>(v);
               return g.dequantize(v);
             });
  return b;
}

}  // namespace quench::quant::lowbit

#include "quant/lowbit/adaround.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/interrupt.h"
#include "quant/lowbit/dense.h"

namespace quench::quant::lowbit {
namespace {

constexpr float kZeta = 1.1f, kGamma = -0.1f;  // stretch of the rectified sigmoid, eq. (76)

float sigmoid(float v) { return 1.f / (1.f + std::exp(-v)); }

// Eq. (76): h(V) = clip(σ(V)·(ζ − γ) + γ, 0, 1).
float rectified(float v) { return std::clamp(sigmoid(v) * (kZeta - kGamma) + kGamma, 0.f, 1.f); }

// Y[row] = x · W_gᵀ + b for the rows of every group, then the activation.
void forward(const LayerShape& s, const float* x, const std::vector<float>& w,
             const std::vector<float>& bias, float act_lo, float act_hi, float* y) {
  const int64_t r = s.group_rows(), k = s.cols;
  for (int64_t g = 0; g < s.groups; ++g) {
    for (int64_t j = 0; j < r; ++j) {
      const int64_t row = g * r + j;
      const float v = dot(x + g * k, &w[row * k], k) + (bias.empty() ? 0.f : bias[row]);
      y[row] = std::clamp(v, act_lo, act_hi);
    }
  }
}

}  // namespace

WeightGrid WeightGrid::per_row(const LayerShape& s, const std::vector<float>& scales,
                               int32_t qmax) {
  WeightGrid g;
  const int64_t n = s.rows * s.cols;
  g.scale.resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) g.scale[i] = scales[scales.size() == 1 ? 0 : i / s.cols];
  g.zero_point.assign(static_cast<size_t>(n), 0.f);
  g.lo = static_cast<float>(-qmax);
  g.hi = static_cast<float>(qmax);
  return g;
}

WeightGrid WeightGrid::blockwise(const BlockwiseWeights& b, int64_t rows, int64_t cols,
                                 int64_t block, int32_t levels) {
  WeightGrid g;
  g.scale.resize(static_cast<size_t>(rows * cols));
  g.zero_point.resize(static_cast<size_t>(rows * cols));
  for (int64_t row = 0; row < rows; ++row) {
    for (int64_t c = 0; c < cols; ++c) {
      const BlockGrid& grid = b.grids[row * b.blocks + c / block];
      g.scale[row * cols + c] = grid.scale;
      g.zero_point[row * cols + c] = static_cast<float>(grid.zero_point);
    }
  }
  g.lo = 0.f;
  g.hi = static_cast<float>(levels);
  return g;
}

std::vector<int8_t> adaround(const LayerShape& s, const std::vector<float>& w,
                             const std::vector<float>& bias, const float* x_q, const float* x_fp,
                             int64_t m, const WeightGrid& grid, const AdaRoundOptions& o) {
  const int64_t rows = s.rows, k = s.cols, xc = s.x_cols(), n = rows * k;
  const float lo = grid.lo, hi = grid.hi;
  const std::vector<float>& scale = grid.scale;
  // Targets: the float layer on float inputs, eq. (77).
  std::vector<float> target(static_cast<size_t>(m * rows));
  for (int64_t i = 0; i < m; ++i)
    forward(s, x_fp + i * xc, w, bias, o.act_lo, o.act_hi, &target[i * rows]);
  // W/s + z = floor + rest; V starts where h(V) = rest (rounding to nearest would round at 0.5).
  std::vector<float> floor_w(n), v(n);
  for (int64_t i = 0; i < n; ++i) {
    const float t = w[i] / scale[i] + grid.zero_point[i];
    floor_w[i] = std::floor(t);
    const float rest = std::clamp(t - floor_w[i], 0.01f, 0.99f);
    const float p = (rest - kGamma) / (kZeta - kGamma);
    v[i] = std::log(p / (1.f - p));
  }
  std::vector<float> m1(n, 0.f), m2(n, 0.f), wq(n), grad(n), h(n);
  std::vector<float> y(rows), dy(rows);
  std::mt19937_64 rng(o.seed);
  std::uniform_int_distribution<int64_t> pick(0, m - 1);
  const int64_t batch = std::min(o.batch, m);
  const int64_t warm = static_cast<int64_t>(o.warmup * static_cast<float>(o.iters));
  constexpr float kBeta1 = 0.9f, kBeta2 = 0.999f, kEps = 1e-8f;
  for (int64_t it = 0; it < o.iters; ++it) {
    if (it % 64 == 0) check_interrupted();
    for (int64_t i = 0; i < n; ++i) {
      h[i] = rectified(v[i]);
      wq[i] = grid.value(i, std::clamp(floor_w[i] + h[i], lo, hi));  // eqs. (77), (145)
    }
    std::fill(grad.begin(), grad.end(), 0.f);
    for (int64_t b = 0; b < batch; ++b) {
      const int64_t i = pick(rng);
      const float* xq = x_q + i * xc;
      forward(s, xq, wq, bias, -INFINITY, INFINITY, y.data());
      for (int64_t row = 0; row < rows; ++row) {
        const float pre = y[row];
        const bool passes = pre > o.act_lo && pre < o.act_hi;
        const float out = std::clamp(pre, o.act_lo, o.act_hi);
        dy[row] = passes ? 2.f * (out - target[i * rows + row]) / static_cast<float>(batch) : 0.f;
      }
      const int64_t r = s.group_rows();
      for (int64_t row = 0; row < rows; ++row) {
        if (dy[row] == 0.f) continue;
        const float d = dy[row];
        const float* xg = xq + (row / r) * k;
        float* gr = &grad[row * k];
#pragma omp simd
        for (int64_t c = 0; c < k; ++c) gr[c] += d * xg[c];
      }
    }
    // The regulariser of eq. (78) after the warm-up, with β annealed linearly (eq. (79)).
    const bool regularize = it >= warm;
    const float rel =
        static_cast<float>(it - warm) / static_cast<float>(std::max<int64_t>(1, o.iters - warm));
    const float beta = o.beta_end + (o.beta_start - o.beta_end) * std::max(0.f, 1.f - rel);
    const float c1 = 1.f - std::pow(kBeta1, static_cast<float>(it + 1));
    const float c2 = 1.f - std::pow(kBeta2, static_cast<float>(it + 1));
    for (int64_t i = 0; i < n; ++i) {
      const float q = floor_w[i] + h[i];
      float gh = (q > lo && q < hi) ? grad[i] * scale[i] : 0.f;
      if (regularize) {
        const float u = 2.f * h[i] - 1.f;
        gh += -o.lambda * beta * std::pow(std::abs(u), beta - 1.f) * (u >= 0.f ? 2.f : -2.f);
      }
      const float sg = sigmoid(v[i]);
      const float raw = sg * (kZeta - kGamma) + kGamma;
      const float gv = (raw > 0.f && raw < 1.f) ? gh * (kZeta - kGamma) * sg * (1.f - sg) : 0.f;
      m1[i] = kBeta1 * m1[i] + (1.f - kBeta1) * gv;
      m2[i] = kBeta2 * m2[i] + (1.f - kBeta2) * gv * gv;
      v[i] -= o.lr * (m1[i] / c1) / (std::sqrt(m2[i] / c2) + kEps);
    }
  }
  std::vector<int8_t> q(n);
  for (int64_t i = 0; i < n; ++i) {  // eq. (80)
    q[i] =
        static_cast<int8_t>(std::clamp(floor_w[i] + (rectified(v[i]) >= 0.5f ? 1.f : 0.f), lo, hi));
  }
  return q;
}

double layer_output_error(const LayerShape& s, const std::vector<float>& w,
                          const std::vector<float>& bias, const float* x_q, const float* x_fp,
                          int64_t m, const std::vector<int8_t>& q, const WeightGrid& grid,
                          const AdaRoundOptions& act) {
  const int64_t rows = s.rows, xc = s.x_cols();
  std::vector<float> wq(q.size());
  for (size_t i = 0; i < q.size(); ++i) {
    wq[i] = grid.value(static_cast<int64_t>(i), static_cast<float>(q[i]));
  }
  std::vector<float> a(rows), b(rows);
  double e = 0.0;
  for (int64_t i = 0; i < m; ++i) {
    forward(s, x_fp + i * xc, w, bias, act.act_lo, act.act_hi, a.data());
    forward(s, x_q + i * xc, wq, bias, act.act_lo, act.act_hi, b.data());
    for (int64_t r = 0; r < rows; ++r) e += (a[r] - b[r]) * static_cast<double>(a[r] - b[r]);
  }
  return e / static_cast<double>(std::max<int64_t>(1, m));
}

}  // namespace quench::quant::lowbit

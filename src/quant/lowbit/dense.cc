#include "quant/lowbit/dense.h"

#include <algorithm>

namespace quench::quant::lowbit {

float dot(const float* a, const float* b, int64_t n) {
  float s = 0.f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

std::vector<double> gram(const float* x, int64_t m, int64_t ld, int64_t col0, int64_t k) {
  std::vector<double> h(static_cast<size_t>(k * k), 0.0);
  if (m == 0) return h;
  // Columns of a chunk of rows, transposed so that each product of two columns is one dot.
  constexpr int64_t kChunk = 512;
  std::vector<float> t(static_cast<size_t>(k * kChunk));
  for (int64_t r0 = 0; r0 < m; r0 += kChunk) {
    const int64_t n = std::min(kChunk, m - r0);
    for (int64_t r = 0; r < n; ++r) {
      const float* row = x + (r0 + r) * ld + col0;
      for (int64_t c = 0; c < k; ++c) t[c * n + r] = row[c];
    }
    for (int64_t i = 0; i < k; ++i) {
      for (int64_t j = i; j < k; ++j) h[i * k + j] += dot(&t[i * n], &t[j * n], n);
    }
  }
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = i; j < k; ++j) h[j * k + i] = h[i * k + j] /= static_cast<double>(m);
  }
  return h;
}

}  // namespace quench::quant::lowbit

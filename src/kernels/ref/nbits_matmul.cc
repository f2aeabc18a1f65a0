#include "kernels/ref/nbits_matmul.h"

namespace quench::ref {

void dequantize_nbits_column(const NBitsWeights& w, int64_t n, float* column) {
  const NBitsShape& s = w.shape;
  const int64_t blocks = s.k_blocks();
  const uint8_t* b = w.b + n * blocks * s.blob_bytes();
  const float* scales = w.scales + n * blocks;
  for (int64_t k = 0; k < s.k; ++k) {
    const int64_t block = k / s.block_size;
    const int64_t group = w.g_idx != nullptr ? w.g_idx[k] : block;
    const int q = unpack_bits(b + block * s.blob_bytes(), k % s.block_size, s.bits);
    float zero_point = static_cast<float>(s.default_zero_point());
    if (w.packed_zero_points != nullptr) {
      zero_point = static_cast<float>(
          unpack_bits(w.packed_zero_points + n * s.zero_point_bytes(), group, s.bits));
    } else if (w.float_zero_points != nullptr) {
      zero_point = w.float_zero_points[n * blocks + group];
    }
    column[k] = (static_cast<float>(q) - zero_point) * scales[group];
  }
}

void matmul_nbits(const NBitsWeights& w, const float* a, int64_t m, const float* bias, float* y,
                  float* column) {
  const int64_t k_dim = w.shape.k, n_dim = w.shape.n;
  for (int64_t n = 0; n < n_dim; ++n) {
    dequantize_nbits_column(w, n, column);
    for (int64_t row = 0; row < m; ++row) {
      const float* x = a + row * k_dim;
      double sum = 0.0;  // the oracle accumulates in double
      for (int64_t k = 0; k < k_dim; ++k) sum += static_cast<double>(x[k]) * column[k];
      if (bias != nullptr) sum += bias[n];
      y[row * n_dim + n] = static_cast<float>(sum);
    }
  }
}

}  // namespace quench::ref

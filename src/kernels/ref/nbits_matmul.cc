#include "kernels/ref/nbits_matmul.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace quench::ref {

bool nbits_int8_compute(const NBitsShape& s, bool has_g_idx, bool float_zero_points) {
  return s.accuracy_level == 4 && s.bits == 4 && !has_g_idx && !float_zero_points;
}

void quantize_nbits_row(const float* a, const NBitsShape& s, int8_t* q, float* scale) {
  for (int64_t j = 0; j < s.k_blocks(); ++j) {
    const int64_t k0 = j * s.block_size, k1 = std::min(s.k, k0 + s.block_size);
    float amax = 0.f;
    bool finite = true;
    for (int64_t k = k0; k < k1; ++k) {
      finite = finite && std::isfinite(a[k]);
      amax = std::max(amax, std::abs(a[k]));
    }
    int8_t* qj = q + k0;
    std::fill(qj, qj + s.block_size, int8_t{0});
    if (!finite) {
      scale[j] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    scale[j] = amax / 127.f;
    const float inverse = amax != 0.f ? 127.f / amax : 0.f;
    // |a · 127 / max|a|| <= 127 up to one rounding, so the codes stay within [-127, 127].
    for (int64_t k = k0; k < k1; ++k) {
      qj[k - k0] = static_cast<int8_t>(std::clamp(std::nearbyint(a[k] * inverse), -127.f, 127.f));
    }
  }
}

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

namespace {

// Eq. (161): each block's integer dot product of A's codes with q − z, scaled by both scales.
void matmul_nbits_int8(const NBitsWeights& w, const float* a, int64_t m, const float* bias,
                       float* y, void* scratch) {
  const NBitsShape& s = w.shape;
  const int64_t blocks = s.k_blocks();
  float* a_scale = static_cast<float*>(scratch);
  int8_t* q = reinterpret_cast<int8_t*>(a_scale + blocks);
  for (int64_t row = 0; row < m; ++row) {
    quantize_nbits_row(a + row * s.k, s, q, a_scale);
    for (int64_t n = 0; n < s.n; ++n) {
      const uint8_t* b = w.b + n * blocks * s.blob_bytes();
      double sum = bias != nullptr ? bias[n] : 0.0;
      for (int64_t j = 0; j < blocks; ++j) {
        const int z = w.packed_zero_points != nullptr
                          ? unpack_bits(w.packed_zero_points + n * s.zero_point_bytes(), j, 4)
                          : s.default_zero_point();
        int32_t dot = 0;
        for (int64_t i = 0; i < s.block_size; ++i) {
          dot += q[j * s.block_size + i] * (unpack_bits(b + j * s.blob_bytes(), i, 4) - z);
        }
        sum += static_cast<double>(a_scale[j]) * w.scales[n * blocks + j] * dot;
      }
      y[row * s.n + n] = static_cast<float>(sum);
    }
  }
}

}  // namespace

size_t matmul_nbits_scratch_bytes(const NBitsShape& s) {
  const size_t column = static_cast<size_t>(s.k) * sizeof(float);
  const size_t codes =
      static_cast<size_t>(s.k_blocks()) * (sizeof(float) + static_cast<size_t>(s.block_size));
  return std::max(column, codes);
}

void matmul_nbits(const NBitsWeights& w, const float* a, int64_t m, const float* bias, float* y,
                  void* scratch) {
  if (nbits_int8_compute(w.shape, w.g_idx != nullptr, w.float_zero_points != nullptr))
    return matmul_nbits_int8(w, a, m, bias, y, scratch);
  float* column = static_cast<float*>(scratch);
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

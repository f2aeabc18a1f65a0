// com.microsoft MatMulNBits in kernel terms: Y[m, n] = sum_k A[m, k] · W[k, n] (+ bias[n]), with W
// stored per output column n as blocks of `block_size` rows along K, each element `bits` wide
// (2-8), with one float scale and one zero point per block (docs/quantization.md eqs.
// (120)-(122)). The reference dequantizes a column at a time and sums in double: the oracle
// of the fast kernels (kernels/x86/nbits_gemv.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace quench::ref {

struct NBitsShape {
  int64_t k = 0, n = 0, bits = 4, block_size = 32;
  int64_t k_blocks() const { return (k + block_size - 1) / block_size; }
  int64_t blob_bytes() const { return (block_size * bits + 7) / 8; }
  // Bytes of one column's packed zero points: k_blocks elements of `bits` each.
  int64_t zero_point_bytes() const { return (k_blocks() * bits + 7) / 8; }
  // The zero point when the node has none: 2^(bits-1).
  int default_zero_point() const { return 1 << (bits - 1); }
};

// Raw pointers of one run (everything but the shape may come from graph inputs).
struct NBitsWeights {
  NBitsShape shape;
  const uint8_t* b = nullptr;                   // [N, k_blocks, blob_bytes]
  const float* scales = nullptr;                // [N, k_blocks]
  const uint8_t* packed_zero_points = nullptr;  // [N, zero_point_bytes], or null
  const float* float_zero_points = nullptr;     // [N, k_blocks], or null
  const int32_t* g_idx = nullptr;               // [K] block of each row of W, or null
};

// Element `i` of a little-endian stream of `bits`-wide unsigned values (eq. (120)).
inline int unpack_bits(const uint8_t* stream, int64_t i, int64_t bits) {
  const int64_t bit = i * bits;
  const uint8_t* p = stream + bit / 8;
  const int shift = static_cast<int>(bit % 8);
  unsigned v = p[0] >> shift;
  if (shift + bits > 8) v |= static_cast<unsigned>(p[1]) << (8 - shift);
  return static_cast<int>(v & ((1u << bits) - 1u));
}

// Column n of W as K floats (eq. (121)).
void dequantize_nbits_column(const NBitsWeights& w, int64_t n, float* column);

// Y [m, N] = A [m, K] · W (+ bias [N]); `column` is scratch for K floats.
void matmul_nbits(const NBitsWeights& w, const float* a, int64_t m, const float* bias, float* y,
                  float* column);

}  // namespace quench::ref

// com.microsoft MatMulNBits in kernel terms: Y[m, n] = sum_k A[m, k] · W[k, n] (+ bias[n]), with W
// stored per output column n as blocks of `block_size` rows along K, each element `bits` wide
// (2-8), with one float scale and one zero point per block (docs/quantization.md eqs.
// (120)-(122), and (161) for accuracy_level 4). The reference dequantizes a column at a time
// (or takes each block's integer dot product) and sums in double: the oracle of the fast kernels
// (kernels/x86/nbits_gemv.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace quench::ref {

struct NBitsShape {
  int64_t k = 0, n = 0, bits = 4, block_size = 32;
  // The attribute: 4 asks for A quantized to int8 per block (eq. (161)), 0-3 for float.
  int64_t accuracy_level = 0;
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

// Whether the product takes A quantized to int8 per block (eq. (161)): accuracy_level 4 with
// 4-bit codes, no g_idx and no float zero points, as ONNX Runtime's int8 compute; float otherwise.
bool nbits_int8_compute(const NBitsShape& s, bool has_g_idx, bool float_zero_points);

// One row of A for eq. (161): block j of `block_size` elements gets scale[j] = max|a| / 127 and
// codes q = round_half_even(a · 127 / max|a|) (0 when max|a| = 0; scale NaN when the block holds
// a NaN or an infinity, so that the outputs show it); q holds k_blocks · block_size codes, zeros
// past K. The fast kernels quantize A with this same function.
void quantize_nbits_row(const float* a, const NBitsShape& s, int8_t* q, float* scale);

// Column n of W as K floats (eq. (121)).
void dequantize_nbits_column(const NBitsWeights& w, int64_t n, float* column);

// Bytes of scratch matmul_nbits needs.
size_t matmul_nbits_scratch_bytes(const NBitsShape& s);

// Y [m, N] = A [m, K] · W (+ bias [N]): eq. (121), or eq. (161) where nbits_int8_compute;
// `scratch` is matmul_nbits_scratch_bytes, aligned for floats.
void matmul_nbits(const NBitsWeights& w, const float* a, int64_t m, const float* bias, float* y,
                  void* scratch);

}  // namespace quench::ref

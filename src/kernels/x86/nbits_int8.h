// com.microsoft MatMulNBits at accuracy_level 4 with 4-bit weights (docs/quantization.md eq.
// (161)): each row of A quantized per block to int8 (ref::quantize_nbits_row, the reference's
// own codes), then per block the integer dot product of A's codes with the weight codes minus the
// zero point times the sum of A's codes, on AVX512_VNNI (vpdpbusd, 64 codes an instruction) or
// AVX2 (vpmaddubsw + vpmaddwd), scaled once by both scales. At load the weights are regrouped so
// that each int32 lane of a product accumulates one block: 16 blocks share one conversion to
// float. They are streamed once per tile of up to 4 rows, one column at a time, for any number of
// rows (the integer products outrun the float panels of nbits_gemm.h at every batch). Tested
// against kernels/ref/nbits_matmul.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86 {

// The integer column loops.
enum class Int8DotIsa { kAvx2, kAvx512Vnni };
// The fastest this CPU runs; its name, "avx512vnni" or "avx2".
Int8DotIsa int8_dot_isa();
const char* int8_dot_isa_name(Int8DotIsa isa);

// The weights regrouped for the integer loops: per column, groups of 16 blocks (the last padded
// with empty blocks), each group block_size / 8 steps of 64 bytes. In step t of group g, bytes
// 4l .. 4l + 3 are bytes 4t .. 4t + 3 of block 16g + l (low nibbles its elements 8t + 2u, high
// nibbles 8t + 2u + 1, u < 4), so that int32 lane l of every product sums block 16g + l only.
// Scales and zero points padded to 16 per group (0 in the empty blocks).
struct Int4GroupedWeights {
  int64_t k = 0, n = 0, block_size = 32, k_blocks = 0, groups = 0;
  std::vector<uint8_t> b;           // [N][groups][block_size / 8][64]
  std::vector<float> scales;        // [N][groups · 16]
  std::vector<int8_t> zero_points;  // [N][groups · 16]
  int64_t steps_per_group() const { return block_size / 8; }
  int64_t column_bytes() const { return groups * steps_per_group() * 64; }
};

Int4GroupedWeights group_int4_weights(const Int4Weights& w);

// Up to 4 rows of A as the integer loops read them: per row, for every step of every group, the
// 64 codes under the low nibbles then the 64 under the high ones (the layout above; 0 in the
// empty blocks and past K), and per block (16 per group) A's scale and the sum of its codes.
struct Int4Int8Rows {
  const int8_t* codes = nullptr;          // [rows][groups][steps per group][128]
  const float* block_scales = nullptr;    // [rows][groups · 16]
  const int32_t* code_sums = nullptr;     // [rows][groups · 16]
  int64_t row_codes = 0, row_blocks = 0;  // the strides of a row
};

// Bytes of scratch gemv_int4_int8 needs for `rows` rows of A.
size_t int4_int8_scratch_bytes(const Int4GroupedWeights& w, int64_t rows);
// y [rows, N] = a [rows, K] · W (+ bias) by eq. (161), columns [n0, n1) only (threads split N);
// `scratch` is int4_int8_scratch_bytes(w, rows), 64-byte aligned.
void gemv_int4_int8(const Int4GroupedWeights& w, const float* a, int64_t rows, const float* bias,
                    float* y, int64_t n0, int64_t n1, void* scratch, Int8DotIsa isa);

// Columns [n0, n1) for `rows` (up to 4) rows of A.
namespace avx2 {
void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx2
namespace avx512vnni {
void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx512vnni

}  // namespace quench::x86

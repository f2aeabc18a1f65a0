// com.microsoft MatMulNBits at accuracy_level 4 with 4-bit weights (docs/quantization.md eq.
// (161)): each row of A quantized per block to int8 (ref::quantize_nbits_row, the reference's
// own codes), then per block the integer dot product of A's codes with the weight codes, on
// AVX512_VNNI (vpdpbusd, 64 codes an instruction) or AVX2 (vpmaddubsw + vpmaddwd), scaled once by
// both scales; the zero points come off with A's scaled block sums, as in eq. (144). The packed
// weights are streamed as stored, once per tile of up to 4 rows, for any number of rows (the
// integer products outrun the float panels of nbits_gemm.h at every batch). Tested against
// kernels/ref/nbits_matmul.h.
#pragma once

#include <cstdint>

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86 {

// The integer column loops.
enum class Int8DotIsa { kAvx2, kAvx512Vnni };
// The fastest this CPU runs; its name, "avx512vnni" or "avx2".
Int8DotIsa int8_dot_isa();
const char* int8_dot_isa_name(Int8DotIsa isa);

// Up to 4 rows of A as the integer loops read them. A row is cut into steps of 128 elements (the
// last zero-padded), each stored as 128 codes: the 64 even elements of its four 32-element chunks
// (16 per chunk, chunk by chunk), then the 64 odd ones, matching the low and high nibbles of the
// step's 64 weight bytes; `lane_scales` holds per step the scale of A's block under each of the
// 16 int32 lanes of a product (lane l covers chunk l / 4); `block_scales` and `block_sums` (scale
// times the sum of the block's codes) per block.
struct Int4Int8Rows {
  const int8_t* codes = nullptr;        // [rows][steps][128]
  const float* lane_scales = nullptr;   // [rows][steps][16]
  const float* block_scales = nullptr;  // [rows][k_blocks]
  const float* block_sums = nullptr;    // [rows][k_blocks]
  int64_t steps = 0;
};

// Bytes of scratch gemv_int4_int8 needs for `rows` rows of A.
size_t int4_int8_scratch_bytes(const Int4Weights& w, int64_t rows);
// y [rows, N] = a [rows, K] · W (+ bias) by eq. (161), columns [n0, n1) only (threads split N);
// `scratch` is int4_int8_scratch_bytes(w, rows), 64-byte aligned.
void gemv_int4_int8(const Int4Weights& w, const float* a, int64_t rows, const float* bias, float* y,
                    int64_t n0, int64_t n1, void* scratch, Int8DotIsa isa);

// Columns [n0, n1) for `rows` (up to 4) rows of A.
namespace avx2 {
void int4_int8_columns(const Int4Weights& w, const Int4Int8Rows& a, int64_t rows, const float* bias,
                       float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx2
namespace avx512vnni {
void int4_int8_columns(const Int4Weights& w, const Int4Int8Rows& a, int64_t rows, const float* bias,
                       float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx512vnni

}  // namespace quench::x86

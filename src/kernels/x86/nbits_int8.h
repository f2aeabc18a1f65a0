// com.microsoft MatMulNBits at accuracy_level 4 with 4-bit weights (docs/quantization.md eq.
// (161)): each row of A quantized per block to int8 (avx2::quantize_int8_blocks: the codes of
// ref::quantize_nbits_row, bit for bit), then per block the integer dot product of A's codes with
// the weight codes minus the zero point times the sum of A's codes, on AVX512_VNNI (vpdpbusd, 64
// codes an instruction) or AVX2 (vpmaddubsw + vpmaddwd), scaled once by both scales. At load the
// weights are regrouped so that each int32 lane of a product accumulates one block of one column:
// 16 blocks share one conversion to float. They are streamed once per tile of up to 4 rows, as one
// stream, for any number of rows (the integer products outrun the float panels of nbits_gemm.h at
// every batch). Tested against kernels/ref/nbits_matmul.h.
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

// The weights regrouped for the integer loops (eq. (162)), so that each int32 lane of a product
// sums one block of one column. A group holds `width` blocks (16, or fewer when the column has
// fewer: the next power of two of k_blocks) of 16 / width columns, a pack; lane l is block g ·
// width + l % width of the pack's column l / width. A group is block_size / 8 steps of 64 bytes: in
// step t, bytes 4l .. 4l + 3 are bytes 4t .. 4t + 3 of lane l's block (low nibbles its elements 8t
// + 2u, high nibbles 8t + 2u + 1, u < 4). Scales and zero points per lane; empty lanes (past the
// blocks or the columns) hold zeros.
struct Int4GroupedWeights {
  int64_t k = 0, n = 0, block_size = 32, k_blocks = 0;
  int64_t width = 16, groups = 0, packs = 0;
  std::vector<uint8_t> b;           // [packs][groups][block_size / 8][64]
  std::vector<float> scales;        // [packs][groups][16]
  std::vector<int8_t> zero_points;  // [packs][groups][16]
  int64_t steps_per_group() const { return block_size / 8; }
  int64_t columns_per_pack() const { return 16 / width; }
  int64_t pack_bytes() const { return groups * steps_per_group() * 64; }
  // Pack p's codes, and its lanes' scales and zero points.
  const uint8_t* pack_codes(int64_t p) const { return b.data() + p * pack_bytes(); }
  const float* pack_scales(int64_t p) const { return scales.data() + p * groups * 16; }
  const int8_t* pack_zero_points(int64_t p) const { return zero_points.data() + p * groups * 16; }
};

// How far ahead of the step the integer loops prefetch the weights, into L2. The packs are read
// as one stream, back to back (four interleaved column streams ran at 40-50 % of the read
// bandwidth of an AMD EPYC Zen 4, one at 70-90 %: bench/nbits_gemv); prefetching to L2 measured
// 5-15 points above prefetching to L1 or 4 or 16 KiB ahead.
constexpr int64_t kInt4Int8PrefetchBytes = 8192;

Int4GroupedWeights group_int4_weights(const Int4Weights& w);

// Up to 4 rows of A as the integer loops read them: per row, for every step of every group, the
// 64 codes under the low nibbles then the 64 under the high ones (lane l: block g · width +
// l % width, the same codes for every column of a pack; 0 in empty lanes and past K), and per
// lane A's block scale and the sum of the block's codes.
struct Int4Int8Rows {
  const int8_t* codes = nullptr;          // [rows][groups][steps per group][128]
  const float* block_scales = nullptr;    // [rows][groups][16]
  const int32_t* code_sums = nullptr;     // [rows][groups][16]
  int64_t row_codes = 0, row_blocks = 0;  // the strides of a row
};

// Bytes of scratch gemv_int4_int8 needs for `rows` rows of A.
size_t int4_int8_scratch_bytes(const Int4GroupedWeights& w, int64_t rows);
// y [rows, N] = a [rows, K] · W (+ bias) by eq. (161), columns [n0, n1) only (threads split N,
// best in whole packs); `scratch` is int4_int8_scratch_bytes(w, rows), 64-byte aligned.
void gemv_int4_int8(const Int4GroupedWeights& w, const float* a, int64_t rows, const float* bias,
                    float* y, int64_t n0, int64_t n1, void* scratch, Int8DotIsa isa);

// Columns [n0, n1) for `rows` (up to 4) rows of A.
namespace avx2 {
// One row of A quantized per block, the codes (k_blocks · block_size, zeros past K) and scales
// of ref::quantize_nbits_row exactly: the same float operations, rounding half to even (the
// default rounding of MXCSR), 8 lanes at a time.
void quantize_int8_blocks(const float* a, int64_t k, int64_t block_size, int64_t k_blocks,
                          int8_t* q, float* scale);
void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx2
namespace avx512vnni {
void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx512vnni

// The pack driver of the integer loops: each defines a `Loop` with `template <int R> static void
// pack(w, a, p, float out[R][16])` (for R rows and pack p, each lane holding the sum of its
// column's `width` lanes) and calls int4_int8_packs_with<Loop>.
template <class Loop>
void int4_int8_packs_with(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                          const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  auto run = [&]<int R>() {
    const int64_t per = w.columns_per_pack();
    for (int64_t p = n0 / per; p * per < n1; ++p) {
      float lanes[R][16];
      Loop::template pack<R>(w, a, p, lanes);
      for (int64_t c = 0; c < per; ++c) {
        const int64_t n = p * per + c;
        if (n < n0 || n >= n1) continue;
        for (int r = 0; r < R; ++r) {
          y[r * y_stride + n] = lanes[r][c * w.width] + (bias != nullptr ? bias[n] : 0.f);
        }
      }
    }
  };
  switch (rows) {
    case 1:
      return run.template operator()<1>();
    case 2:
      return run.template operator()<2>();
    case 3:
      return run.template operator()<3>();
    default:
      return run.template operator()<4>();
  }
}

}  // namespace quench::x86

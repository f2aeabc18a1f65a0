// com.microsoft MatMulNBits with 4-bit weights for many rows of A (the LLM prefill product, and
// any batch where the weights can be reused): the packed weights are repacked once at load into
// panels of 32 columns, each panel dequantized per call a chunk of K at a time into a float buffer
// that stays in L1 (eq. (156)), and that buffer multiplied by every row of A with a register-tiled
// outer-product loop. Fewer rows go through the GEMV (nbits_gemv.h), which streams the packed
// weights once per 4 rows and unpacks them on the way. Tested against kernels/ref/nbits_matmul.h.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86 {

// From this many rows of A on, the panels beat the GEMV (measured at 4096 x 4096 with `quench
// bench`: on AVX-512, 3 rows take the same time both ways and 4 rows 1.95 against 2.75 ms; on
// AVX2, 4 rows 3.35 against 3.63 ms).
int64_t int4_gemm_min_rows(Int4Isa isa);

// Columns per panel, and rows of K dequantized per chunk (32 KiB of floats, within L1).
constexpr int64_t kInt4PanelWidth = 32;
constexpr int64_t kInt4ChunkRows = 256;

// The weights repacked for the panels: for panel p (columns 32p..32p+31) and row k of K, 16 bytes
// whose low nibbles are columns 0-15 of the panel and high nibbles columns 16-31; for every block
// j, the 32 scales and zero points of the panel's columns (scale 0 past N, so the padded columns
// come out 0).
struct Int4Panels {
  int64_t k = 0, n = 0, block_size = 32, k_blocks = 0, panels = 0;
  std::vector<uint8_t> codes;        // [panels][k][16]
  std::vector<float> scales;         // [panels][k_blocks][32]
  std::vector<int32_t> zero_points;  // [panels][k_blocks][32]
};

Int4Panels pack_int4_panels(const Int4Weights& w);

// Bytes of scratch gemm_int4 needs: one chunk of dequantized weights per thread.
size_t int4_gemm_scratch_bytes(int threads);
// y [rows, N] = a [rows, K] · W (+ bias), the panels split over up to `threads` threads;
// `scratch` is int4_gemm_scratch_bytes(threads), 64-byte aligned.
void gemm_int4(const Int4Panels& w, const float* a, int64_t rows, const float* bias, float* y,
               void* scratch, int threads, Int4Isa isa = int4_isa());

// The per-instruction-set halves of gemm_int4.
//   dequantize_chunk: rows [k0, k1) of panel p as floats, [k1 - k0][32] (eq. (156)).
//   multiply_chunk: y[r, c] (+)= Σ_k a[r, k] · chunk[k, c] for `rows` rows (a's rows `lda` apart,
//     y's `ldy` apart) and the panel's 32 columns; y starts from `init` (32 values, or zeros when
//     null) instead of its contents when `first`.
namespace avx2 {
void dequantize_chunk(const Int4Panels& w, int64_t p, int64_t k0, int64_t k1, float* chunk);
void multiply_chunk(const float* a, int64_t lda, int64_t rows, int64_t depth, const float* chunk,
                    float* y, int64_t ldy, bool first, const float* init);
}  // namespace avx2
namespace avx512 {
void dequantize_chunk(const Int4Panels& w, int64_t p, int64_t k0, int64_t k1, float* chunk);
void multiply_chunk(const float* a, int64_t lda, int64_t rows, int64_t depth, const float* chunk,
                    float* y, int64_t ldy, bool first, const float* init);
}  // namespace avx512

}  // namespace quench::x86

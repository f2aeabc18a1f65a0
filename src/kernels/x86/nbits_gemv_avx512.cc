// The int4 columns on AVX-512 (nbits_gemv.h, docs/quantization.md eq. (144)): the codes q are
// widened straight from bytes to 16 int32 lanes (low nibbles the even elements, high the odd), the
// block's partial sum Σ q·a takes its scale once, and the zero points come off afterwards as
// Σ_j s_j·z_j·(Σ a)_j over whole vectors of blocks; up to 4 columns share each pass over A.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv.h"
#include "kernels/x86/nbits_gemv_columns.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512 {
namespace {

// Σ_j s_j · z_j · sums_j over a column's k_blocks blocks.
float zero_point_term(const float* s, const int8_t* z, const float* sums, int64_t blocks) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t j = 0; j < blocks; j += 16) {
    const __mmask16 m =
        blocks - j >= 16 ? 0xFFFF : static_cast<__mmask16>((1u << (blocks - j)) - 1);
    const __m512 zf = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, z + j)));
    const __m512 sz = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, s + j), zf);
    acc = _mm512_fmadd_ps(sz, _mm512_maskz_loadu_ps(m, sums + j), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

// C columns n..n+C-1 for R rows (eq. (144)).
struct Loop {
  template <int R, int C>
  static void group(const Int4Weights& w, const float* perm, const float* block_sums,
                    int64_t row_stride, int64_t n, float out[R][C]);
};

template <int R, int C>
void Loop::group(const Int4Weights& w, const float* perm, const float* block_sums,
                 int64_t row_stride, int64_t n, float out[R][C]) {
  const int64_t chunks = w.block_size / 32;
  const int64_t column_bytes = w.k_blocks * (w.block_size / 2);
  const uint8_t* b[C];
  const float* scales[C];
  for (int c = 0; c < C; ++c) {
    b[c] = w.b.data() + (n + c) * column_bytes;
    scales[c] = w.scales.data() + (n + c) * w.k_blocks;
  }
  const __m512i low = _mm512_set1_epi32(0x0F);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const float* a = perm;
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    __m512 part[R][C];
    for (int64_t ch = 0; ch < chunks; ++ch, a += 32) {
      __m512 x0[R], x1[R];
      for (int r = 0; r < R; ++r) {
        x0[r] = _mm512_load_ps(a + r * row_stride);
        x1[r] = _mm512_load_ps(a + r * row_stride + 16);
      }
      for (int c = 0; c < C; ++c) {
        const __m512i v =
            _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b[c])));
        // The next group's columns (C columns lie back to back): four interleaved streams
        // defeat the hardware prefetcher, which brings this kernel from ~60% of the read
        // bandwidth to ~100% (bench/nbits_gemv).
        _mm_prefetch(reinterpret_cast<const char*>(b[c]) + C * column_bytes, _MM_HINT_T0);
        b[c] += 16;
        const __m512 q0 = _mm512_cvtepi32_ps(_mm512_and_si512(v, low));  // even elements
        const __m512 q1 = _mm512_cvtepi32_ps(_mm512_srli_epi32(v, 4));   // odd elements
        for (int r = 0; r < R; ++r) {
          const __m512 p =
              ch == 0 ? _mm512_mul_ps(q0, x0[r]) : _mm512_fmadd_ps(q0, x0[r], part[r][c]);
          part[r][c] = _mm512_fmadd_ps(q1, x1[r], p);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m512 s = _mm512_set1_ps(scales[c][j]);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(part[r][c], s, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const int8_t* z = w.zero_points.data() + (n + c) * w.k_blocks;
      out[r][c] = _mm512_reduce_add_ps(acc[r][c]) -
                  zero_point_term(scales[c], z, block_sums + r * w.k_blocks, w.k_blocks);
    }
  }
}

}  // namespace

void int4_columns(const Int4Weights& w, const float* perm, const float* block_sums, int64_t rows,
                  const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop>(w, perm, block_sums, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx512

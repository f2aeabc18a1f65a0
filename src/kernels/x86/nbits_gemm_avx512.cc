// The int4 panels on AVX-512 (nbits_gemm.h, docs/quantization.md eq. (156)): a chunk of a panel
// dequantized 32 columns (two registers) per row of K, then multiplied by 8 rows of A at a time,
// 16 accumulators held in registers across the chunk, one broadcast of A per row and step.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/nbits_gemm.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512 {
namespace {

constexpr int kTileRows = 8;

template <int R>
void tile(const float* a, int64_t lda, int64_t depth, const float* chunk, float* y, int64_t ldy,
          bool first, const float* init) {
  __m512 acc[R][2];
  for (int r = 0; r < R; ++r) {
    if (first) {
      acc[r][0] = init ? _mm512_loadu_ps(init) : _mm512_setzero_ps();
      acc[r][1] = init ? _mm512_loadu_ps(init + 16) : _mm512_setzero_ps();
    } else {
      acc[r][0] = _mm512_loadu_ps(y + r * ldy);
      acc[r][1] = _mm512_loadu_ps(y + r * ldy + 16);
    }
  }
  for (int64_t k = 0; k < depth; ++k, chunk += kInt4PanelWidth) {
    const __m512 b0 = _mm512_load_ps(chunk), b1 = _mm512_load_ps(chunk + 16);
    for (int r = 0; r < R; ++r) {
      const __m512 x = _mm512_set1_ps(a[r * lda + k]);
      acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    _mm512_storeu_ps(y + r * ldy, acc[r][0]);
    _mm512_storeu_ps(y + r * ldy + 16, acc[r][1]);
  }
}

}  // namespace

void dequantize_chunk(const Int4Panels& w, int64_t p, int64_t k0, int64_t k1, float* chunk) {
  const uint8_t* codes = w.codes.data() + (p * w.k + k0) * 16;
  const __m512i low = _mm512_set1_epi32(0x0F);
  for (int64_t k = k0; k < k1;) {
    const int64_t j = k / w.block_size, end = std::min(k1, (j + 1) * w.block_size);
    const int64_t at = (p * w.k_blocks + j) * kInt4PanelWidth;
    const __m512 s0 = _mm512_loadu_ps(w.scales.data() + at);
    const __m512 s1 = _mm512_loadu_ps(w.scales.data() + at + 16);
    const __m512i z0 = _mm512_loadu_si512(w.zero_points.data() + at);
    const __m512i z1 = _mm512_loadu_si512(w.zero_points.data() + at + 16);
    for (; k < end; ++k, codes += 16, chunk += kInt4PanelWidth) {
      const __m512i v =
          _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes)));
      const __m512i q0 = _mm512_sub_epi32(_mm512_and_si512(v, low), z0);  // columns 0-15
      const __m512i q1 = _mm512_sub_epi32(_mm512_srli_epi32(v, 4), z1);   // columns 16-31
      _mm512_store_ps(chunk, _mm512_mul_ps(_mm512_cvtepi32_ps(q0), s0));
      _mm512_store_ps(chunk + 16, _mm512_mul_ps(_mm512_cvtepi32_ps(q1), s1));
    }
  }
}

void multiply_chunk(const float* a, int64_t lda, int64_t rows, int64_t depth, const float* chunk,
                    float* y, int64_t ldy, bool first, const float* init) {
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    tile<kTileRows>(a + r * lda, lda, depth, chunk, y + r * ldy, ldy, first, init);
  }
  a += r * lda;
  y += r * ldy;
  switch (rows - r) {
    case 0:
      return;
    case 1:
      return tile<1>(a, lda, depth, chunk, y, ldy, first, init);
    case 2:
      return tile<2>(a, lda, depth, chunk, y, ldy, first, init);
    case 3:
      return tile<3>(a, lda, depth, chunk, y, ldy, first, init);
    case 4:
      return tile<4>(a, lda, depth, chunk, y, ldy, first, init);
    case 5:
      return tile<5>(a, lda, depth, chunk, y, ldy, first, init);
    case 6:
      return tile<6>(a, lda, depth, chunk, y, ldy, first, init);
    default:
      return tile<7>(a, lda, depth, chunk, y, ldy, first, init);
  }
}

}  // namespace quench::x86::avx512

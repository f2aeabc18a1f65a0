// The int4 columns on AVX-512 (nbits_gemv.h): 16 weights per vector, the block's scale applied
// once per block to its partial sums instead of to every weight, and several columns per pass
// over A at batch 1, so that the weights stream at close to the memory's read rate.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512 {
namespace {

// C columns n..n+C-1 for R rows: each block's sums Σ (q − z)·a in float, then · s once per block
// (eq. (144)).
template <int R, int C>
void column_group(const Int4Weights& w, const float* perm, int64_t row_stride, int64_t n,
                  float out[R][C]) {
  const int64_t chunks = w.block_size / 32;
  const int64_t column_bytes = w.k_blocks * (w.block_size / 2);
  const uint8_t* b[C];
  const float* scales[C];
  const int8_t* zps[C];
  for (int c = 0; c < C; ++c) {
    b[c] = w.b.data() + (n + c) * column_bytes;
    scales[c] = w.scales.data() + (n + c) * w.k_blocks;
    zps[c] = w.zero_points.data() + (n + c) * w.k_blocks;
  }
  const __m128i low = _mm_set1_epi8(0x0F);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const float* a = perm;
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    __m512 part[R][C];
    __m128i zp[C];
    for (int c = 0; c < C; ++c) zp[c] = _mm_set1_epi8(zps[c][j]);
    for (int64_t ch = 0; ch < chunks; ++ch, a += 32) {
      __m512 x0[R], x1[R];
      for (int r = 0; r < R; ++r) {
        x0[r] = _mm512_load_ps(a + r * row_stride);
        x1[r] = _mm512_load_ps(a + r * row_stride + 16);
      }
      for (int c = 0; c < C; ++c) {
        const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b[c]));
        b[c] += 16;
        // q − z as int8: the even elements from the low nibbles, the odd from the high ones.
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, low), zp[c]);
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low), zp[c]);
        const __m512 w0 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(lo));
        const __m512 w1 = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(hi));
        for (int r = 0; r < R; ++r) {
          const __m512 p =
              ch == 0 ? _mm512_mul_ps(w0, x0[r]) : _mm512_fmadd_ps(w0, x0[r], part[r][c]);
          part[r][c] = _mm512_fmadd_ps(w1, x1[r], p);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m512 s = _mm512_set1_ps(scales[c][j]);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm512_fmadd_ps(part[r][c], s, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[r][c] = _mm512_reduce_add_ps(acc[r][c]);
  }
}

template <int R, int C>
void columns(const Int4Weights& w, const float* perm, const float* bias, float* y, int64_t y_stride,
             int64_t n0, int64_t n1) {
  const int64_t row_stride = w.k_blocks * w.block_size;
  int64_t n = n0;
  auto store = [&](auto& out, int64_t first, int count) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < count; ++c) {
        y[r * y_stride + first + c] = out[r][c] + (bias ? bias[first + c] : 0.f);
      }
    }
  };
  for (; n + C <= n1; n += C) {
    float out[R][C];
    column_group<R, C>(w, perm, row_stride, n, out);
    store(out, n, C);
  }
  for (; n < n1; ++n) {
    float out[R][1];
    column_group<R, 1>(w, perm, row_stride, n, out);
    store(out, n, 1);
  }
}

}  // namespace

void int4_columns(const Int4Weights& w, const float* perm, int64_t rows, const float* bias,
                  float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  // Columns per pass: as many as the 32 registers hold with the rows' accumulators.
  switch (rows) {
    case 1:
      return columns<1, 4>(w, perm, bias, y, y_stride, n0, n1);
    case 2:
      return columns<2, 2>(w, perm, bias, y, y_stride, n0, n1);
    case 3:
      return columns<3, 1>(w, perm, bias, y, y_stride, n0, n1);
    default:
      return columns<4, 1>(w, perm, bias, y, y_stride, n0, n1);
  }
}

}  // namespace quench::x86::avx512

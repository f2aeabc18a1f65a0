// The int4 columns on AVX2 (nbits_gemv.h, docs/quantization.md eq. (144)), as the AVX-512 loop
// with 8 lanes: each 8 bytes of codes widened to int32 lanes (`& 15` the even elements, `>> 4` the
// odd), the block's partial sum Σ q·a scaled once, the zero points taken off afterwards with the
// block sums of A, the next columns prefetched; the column driver is nbits_gemv_columns.h.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv.h"
#include "kernels/x86/nbits_gemv_columns.h"

namespace quench::x86::avx2 {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Σ_j s_j · z_j · sums_j over a column's k_blocks blocks.
float zero_point_term(const float* s, const int8_t* z, const float* sums, int64_t blocks) {
  __m256 acc = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 8 <= blocks; j += 8) {
    const __m256 zf = _mm256_cvtepi32_ps(
        _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(z + j))));
    acc =
        _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(s + j), zf), _mm256_loadu_ps(sums + j), acc);
  }
  float rest = 0.f;
  for (; j < blocks; ++j) rest += s[j] * static_cast<float>(z[j]) * sums[j];
  return hsum(acc) + rest;
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
  const __m256i low = _mm256_set1_epi32(0x0F);
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const float* a = perm;
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    __m256 part[R][C];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) part[r][c] = _mm256_setzero_ps();
    }
    for (int64_t ch = 0; ch < chunks; ++ch, a += 32) {
      for (int c = 0; c < C; ++c) {
        // The next group's columns (C columns lie back to back).
        _mm_prefetch(reinterpret_cast<const char*>(b[c]) + C * column_bytes, _MM_HINT_T0);
        for (int half = 0; half < 2; ++half) {
          // Bytes 8·half .. 8·half + 7: elements 16·half + 2i (low) and 16·half + 2i + 1 (high),
          // which A' holds at [8·half, 8·half + 8) and [16 + 8·half, 16 + 8·half + 8).
          const __m256i v = _mm256_cvtepu8_epi32(
              _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b[c] + 8 * half)));
          const __m256 q0 = _mm256_cvtepi32_ps(_mm256_and_si256(v, low));
          const __m256 q1 = _mm256_cvtepi32_ps(_mm256_srli_epi32(v, 4));
          for (int r = 0; r < R; ++r) {
            const float* x = a + r * row_stride + 8 * half;
            const __m256 p = _mm256_fmadd_ps(q0, _mm256_load_ps(x), part[r][c]);
            part[r][c] = _mm256_fmadd_ps(q1, _mm256_load_ps(x + 16), p);
          }
        }
        b[c] += 16;
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m256 s = _mm256_set1_ps(scales[c][j]);
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(part[r][c], s, acc[r][c]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const int8_t* z = w.zero_points.data() + (n + c) * w.k_blocks;
      out[r][c] =
          hsum(acc[r][c]) - zero_point_term(scales[c], z, block_sums + r * w.k_blocks, w.k_blocks);
    }
  }
}

}  // namespace

void int4_columns(const Int4Weights& w, const float* perm, const float* block_sums, int64_t rows,
                  const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop>(w, perm, block_sums, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx2

// The column driver of the float int4 GEMV loops (nbits_gemv_avx2.cc, nbits_gemv_avx512.cc):
// each defines a `Loop` with `template <int R, int C> static void group(w, rows, n, float
// out[R][C])` (C columns n.. for R rows of A as `rows` holds them, eq. (144)) and instantiates
// int4_columns_with<Loop> under its own instruction-set flags. Also helpers the float and the
// integer loops (nbits_int8_*.cc) share, in an anonymous namespace: each instruction-set file
// compiles its own copy.
#pragma once

#include <immintrin.h>

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86 {

// Columns [n0, n1) in groups of C, the rest one at a time; y[r, n] = out + bias[n].
template <class Loop, int R, int C, class Rows>
void int4_column_groups(const Int4Weights& w, const Rows& rows, const float* bias, float* y,
                        int64_t y_stride, int64_t n0, int64_t n1) {
  auto store = [&](const auto& out, int64_t first, int count) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < count; ++c) {
        y[r * y_stride + first + c] = out[r][c] + (bias ? bias[first + c] : 0.f);
      }
    }
  };
  int64_t n = n0;
  for (; n + C <= n1; n += C) {
    float out[R][C];
    Loop::template group<R, C>(w, rows, n, out);
    store(out, n, C);
  }
  for (; n < n1; ++n) {
    float out[R][1];
    Loop::template group<R, 1>(w, rows, n, out);
    store(out, n, 1);
  }
}

// Up to 4 rows: 4 columns per pass over A at batch 1, 2 at batch 2, 1 beyond (the accumulators
// of rows × columns must stay in registers).
template <class Loop, class Rows>
void int4_columns_with(const Int4Weights& w, const Rows& rows, int64_t count, const float* bias,
                       float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  switch (count) {
    case 1:
      return int4_column_groups<Loop, 1, 4>(w, rows, bias, y, y_stride, n0, n1);
    case 2:
      return int4_column_groups<Loop, 2, 2>(w, rows, bias, y, y_stride, n0, n1);
    case 3:
      return int4_column_groups<Loop, 3, 1>(w, rows, bias, y, y_stride, n0, n1);
    default:
      return int4_column_groups<Loop, 4, 1>(w, rows, bias, y, y_stride, n0, n1);
  }
}

namespace {

#ifdef __AVX2__
inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Σ_j s_j · z_j · sums_j over a column's k_blocks blocks, 8 lanes.
inline float zero_point_term256(const float* s, const int8_t* z, const float* sums,
                                int64_t blocks) {
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
  return hsum256(acc) + rest;
}
#endif

#ifdef __AVX512F__
// The same, 16 lanes.
inline float zero_point_term512(const float* s, const int8_t* z, const float* sums,
                                int64_t blocks) {
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
#endif

}  // namespace

}  // namespace quench::x86

// The int4 × int8 columns on AVX512_VNNI (nbits_int8.h, docs/quantization.md eq. (161)): each 64
// weight bytes of a group split into low and high nibbles (`& 15`, `>> 4 & 15`), each multiplied
// with A's 64 matching codes by one vpdpbusd (unsigned weight codes times signed A codes, four
// products summed into each int32 lane) into two accumulators, so that lane l ends the group
// with block 16g + l's Σ q^A · q; the zero points come off in int32 (z times the sum of A's codes)
// and the 16 blocks take their two scales in one conversion and one FMA.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv_columns.h"
#include "kernels/x86/nbits_int8.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512vnni {
namespace {

// The columns are taken one at a time, so the weights are read as one stream, back to back (four
// interleaved column streams ran at 40-50% of the read bandwidth of an AMD EPYC Zen 4, one at
// 70-90%: bench/nbits_gemv); each step prefetches the line this far ahead (into the next
// columns) to L2, which measured 5-15 points above prefetching to L1 or 4 or 16 KiB ahead.
constexpr int64_t kPrefetchBytes = 8192;

// C columns n..n+C-1 for R rows (eq. (161)).
struct Loop {
  template <int R, int C>
  static void group(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]);
};

template <int R, int C>
void Loop::group(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]) {
  const int64_t steps = w.steps_per_group(), blocks = w.groups * 16;
  const uint8_t* b[C];
  const float* scales[C];
  const int8_t* zero_points[C];
  for (int c = 0; c < C; ++c) {
    b[c] = w.b.data() + (n + c) * w.column_bytes();
    scales[c] = w.scales.data() + (n + c) * blocks;
    zero_points[c] = w.zero_points.data() + (n + c) * blocks;
  }
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  const int8_t* codes = a.codes;
  for (int64_t g = 0; g < w.groups; ++g) {
    __m512i even[R][C], odd[R][C];
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < C; ++c) even[r][c] = odd[r][c] = _mm512_setzero_si512();
    }
    for (int64_t t = 0; t < steps; ++t, codes += 128) {
      __m512i lo[R], hi[R];
      for (int r = 0; r < R; ++r) {
        lo[r] = _mm512_load_si512(codes + r * a.row_codes);
        hi[r] = _mm512_load_si512(codes + r * a.row_codes + 64);
      }
      for (int c = 0; c < C; ++c) {
        const __m512i v = _mm512_loadu_si512(b[c]);
        _mm_prefetch(reinterpret_cast<const char*>(b[c]) + kPrefetchBytes, _MM_HINT_T1);
        b[c] += 64;
        const __m512i low_nibbles = _mm512_and_si512(v, low);
        const __m512i high_nibbles = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
        for (int r = 0; r < R; ++r) {
          even[r][c] = _mm512_dpbusd_epi32(even[r][c], low_nibbles, lo[r]);
          odd[r][c] = _mm512_dpbusd_epi32(odd[r][c], high_nibbles, hi[r]);
        }
      }
    }
    for (int c = 0; c < C; ++c) {
      const __m512 sb = _mm512_loadu_ps(scales[c] + 16 * g);
      const __m512i z = _mm512_cvtepi8_epi32(
          _mm_loadu_si128(reinterpret_cast<const __m128i*>(zero_points[c] + 16 * g)));
      for (int r = 0; r < R; ++r) {
        const __m512i sums = _mm512_loadu_si512(a.code_sums + r * a.row_blocks + 16 * g);
        const __m512i dot =
            _mm512_sub_epi32(_mm512_add_epi32(even[r][c], odd[r][c]), _mm512_mullo_epi32(z, sums));
        const __m512 sa = _mm512_loadu_ps(a.block_scales + r * a.row_blocks + 16 * g);
        acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sa, sb), acc[r][c]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[r][c] = _mm512_reduce_add_ps(acc[r][c]);
  }
}

}  // namespace

void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop, false>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx512vnni

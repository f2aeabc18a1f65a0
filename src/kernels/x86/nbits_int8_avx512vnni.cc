// The int4 × int8 columns on AVX512_VNNI (nbits_int8.h, docs/quantization.md eq. (161)): each 64
// weight bytes of a group split into low and high nibbles (`& 15`, `>> 4 & 15`), each multiplied
// with A's 64 matching codes by one vpdpbusd (unsigned weight codes times signed A codes, four
// products summed into each int32 lane) into two accumulators, so that each lane ends the group
// with its block's Σ q^A · q; the zero points come off in int32 (z times the sum of A's codes)
// and the 16 lanes take their two scales in one conversion and one FMA.
#include <immintrin.h>

#include "kernels/x86/nbits_int8.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512vnni {
namespace {

// Pack p for R rows (eq. (161)): the 16 lanes' scaled sums.
struct Loop {
  template <int R>
  static void pack(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t p, float out[R][16]);
};

template <int R>
void Loop::pack(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t p, float out[R][16]) {
  const int64_t steps = w.steps_per_group();
  const uint8_t* b = w.pack_codes(p);
  const float* scales = w.pack_scales(p);
  const int8_t* zero_points = w.pack_zero_points(p);
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  const int8_t* codes = a.codes;
  for (int64_t g = 0; g < w.groups; ++g) {
    __m512i even[R], odd[R];
    for (int r = 0; r < R; ++r) even[r] = odd[r] = _mm512_setzero_si512();
    for (int64_t t = 0; t < steps; ++t, codes += 128, b += 64) {
      const __m512i v = _mm512_loadu_si512(b);
      _mm_prefetch(reinterpret_cast<const char*>(b) + kInt4Int8PrefetchBytes, _MM_HINT_T1);
      const __m512i low_nibbles = _mm512_and_si512(v, low);
      const __m512i high_nibbles = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      for (int r = 0; r < R; ++r) {
        even[r] =
            _mm512_dpbusd_epi32(even[r], low_nibbles, _mm512_load_si512(codes + r * a.row_codes));
        odd[r] = _mm512_dpbusd_epi32(odd[r], high_nibbles,
                                     _mm512_load_si512(codes + r * a.row_codes + 64));
      }
    }
    const __m512 sb = _mm512_loadu_ps(scales + 16 * g);
    const __m512i z = _mm512_cvtepi8_epi32(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(zero_points + 16 * g)));
    for (int r = 0; r < R; ++r) {
      const __m512i sums = _mm512_loadu_si512(a.code_sums + r * a.row_blocks + 16 * g);
      const __m512i dot =
          _mm512_sub_epi32(_mm512_add_epi32(even[r], odd[r]), _mm512_mullo_epi32(z, sums));
      const __m512 sa = _mm512_loadu_ps(a.block_scales + r * a.row_blocks + 16 * g);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(sa, sb), acc[r]);
    }
  }
  // Each lane gets the sum of its column's `width` lanes (a butterfly over lane distances 1, 2,
  // 4, 8 below the width).
  for (int r = 0; r < R; ++r) {
    __m512 v = acc[r];
    if (w.width > 1) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0xB1));
    if (w.width > 2) v = _mm512_add_ps(v, _mm512_permute_ps(v, 0x4E));
    if (w.width > 4) v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
    if (w.width > 8) v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    _mm512_storeu_ps(out[r], v);
  }
}

}  // namespace

void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_int8_packs_with<Loop>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx512vnni

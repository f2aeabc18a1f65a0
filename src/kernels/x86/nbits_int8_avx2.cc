// The int4 × int8 columns on AVX2 (nbits_int8.h, docs/quantization.md eq. (161)), as the
// AVX512_VNNI loop in halves of its 64-byte steps (lanes 0-7, then 8-15): the low and high nibbles
// of 32 weight bytes, each multiplied with A's matching codes by vpmaddubsw (pairs of unsigned ×
// signed products into int16: at most 2 · 15 · 127, so the two nibbles' sum, 7620, cannot
// saturate), then vpmaddwd by ones into 8 int32 lanes.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/x86/nbits_int8.h"

namespace quench::x86::avx2 {
namespace {

// Pack p for R rows (eq. (161)): the 16 lanes' scaled sums, in two halves of 8.
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
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[2][R];
  for (int h = 0; h < 2; ++h) {
    for (int r = 0; r < R; ++r) acc[h][r] = _mm256_setzero_ps();
  }
  const int8_t* codes = a.codes;
  for (int64_t g = 0; g < w.groups; ++g) {
    __m256i dot[2][R];  // lanes 0-7, 8-15
    for (int h = 0; h < 2; ++h) {
      for (int r = 0; r < R; ++r) dot[h][r] = _mm256_setzero_si256();
    }
    for (int64_t t = 0; t < steps; ++t, codes += 128, b += 64) {
      _mm_prefetch(reinterpret_cast<const char*>(b) + kInt4Int8PrefetchBytes, _MM_HINT_T1);
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 32 * h));
        const __m256i even = _mm256_and_si256(v, low);
        const __m256i odd = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
        for (int r = 0; r < R; ++r) {
          const int8_t* c = codes + r * a.row_codes + 32 * h;
          const __m256i pairs = _mm256_add_epi16(
              _mm256_maddubs_epi16(even, _mm256_load_si256(reinterpret_cast<const __m256i*>(c))),
              _mm256_maddubs_epi16(odd,
                                   _mm256_load_si256(reinterpret_cast<const __m256i*>(c + 64))));
          dot[h][r] = _mm256_add_epi32(dot[h][r], _mm256_madd_epi16(pairs, ones));
        }
      }
    }
    for (int h = 0; h < 2; ++h) {
      const int64_t first = 16 * g + 8 * h;
      const __m256 sb = _mm256_loadu_ps(scales + first);
      const __m256i z = _mm256_cvtepi8_epi32(
          _mm_loadl_epi64(reinterpret_cast<const __m128i*>(zero_points + first)));
      for (int r = 0; r < R; ++r) {
        const __m256i sums = _mm256_loadu_si256(
            reinterpret_cast<const __m256i*>(a.code_sums + r * a.row_blocks + first));
        const __m256i d = _mm256_sub_epi32(dot[h][r], _mm256_mullo_epi32(z, sums));
        const __m256 sa = _mm256_loadu_ps(a.block_scales + r * a.row_blocks + first);
        acc[h][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(sa, sb), acc[h][r]);
      }
    }
  }
  // Each lane gets the sum of its column's `width` lanes (a butterfly over lane distances 1, 2,
  // 4, 8 below the width).
  for (int r = 0; r < R; ++r) {
    __m256 v[2] = {acc[0][r], acc[1][r]};
    for (__m256& h : v) {
      if (w.width > 1) h = _mm256_add_ps(h, _mm256_permute_ps(h, 0xB1));
      if (w.width > 2) h = _mm256_add_ps(h, _mm256_permute_ps(h, 0x4E));
      if (w.width > 4) h = _mm256_add_ps(h, _mm256_permute2f128_ps(h, h, 0x01));
    }
    if (w.width > 8) v[0] = v[1] = _mm256_add_ps(v[0], v[1]);
    _mm256_storeu_ps(out[r], v[0]);
    _mm256_storeu_ps(out[r] + 8, v[1]);
  }
}

}  // namespace

void quantize_int8_blocks(const float* a, int64_t k, int64_t block_size, int64_t k_blocks,
                          int8_t* q, float* scale) {
  const __m256 sign = _mm256_set1_ps(-0.f), inf = _mm256_set1_ps(INFINITY);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t j = 0; j < k_blocks; ++j) {
    const int64_t k0 = j * block_size, k1 = std::min(k, k0 + block_size);
    const int64_t whole = k0 + (k1 - k0) / 32 * 32;  // 32 elements at a time, then one by one
    __m256 amax = _mm256_setzero_ps(), bad = _mm256_setzero_ps();
    for (int64_t i = k0; i + 8 <= k1; i += 8) {
      const __m256 v = _mm256_andnot_ps(sign, _mm256_loadu_ps(a + i));
      bad = _mm256_or_ps(bad, _mm256_cmp_ps(v, inf, _CMP_NLT_UQ));  // NaN or infinity
      amax = _mm256_max_ps(amax, v);
    }
    float m = 0.f;
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, amax);
    for (float v : lanes) m = std::max(m, v);
    bool finite = _mm256_movemask_ps(bad) == 0;
    for (int64_t i = k0 + (k1 - k0) / 8 * 8; i < k1; ++i) {
      finite = finite && std::isfinite(a[i]);
      m = std::max(m, std::abs(a[i]));
    }
    int8_t* qj = q + k0;
    std::fill(qj, qj + block_size, int8_t{0});
    if (!finite) {
      scale[j] = std::numeric_limits<float>::quiet_NaN();
      continue;
    }
    scale[j] = m / 127.f;
    const float inverse = m != 0.f ? 127.f / m : 0.f;
    const __m256 inv = _mm256_set1_ps(inverse);
    for (int64_t i = k0; i < whole; i += 32) {
      __m256i c[4];
      for (int h = 0; h < 4; ++h) {
        c[h] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + i + 8 * h), inv));
      }
      const __m256i packed =
          _mm256_packs_epi16(_mm256_packs_epi32(c[0], c[1]), _mm256_packs_epi32(c[2], c[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qj + (i - k0)),
                          _mm256_permutevar8x32_epi32(packed, order));
    }
    for (int64_t i = whole; i < k1; ++i) {
      const int v = _mm_cvtss_si32(_mm_set_ss(a[i] * inverse));
      qj[i - k0] = static_cast<int8_t>(std::clamp(v, -127, 127));
    }
  }
}

void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_int8_packs_with<Loop>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx2

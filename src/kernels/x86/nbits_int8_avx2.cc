// The int4 × int8 columns on AVX2 (nbits_int8.h, docs/quantization.md eq. (161)), as the
// AVX512_VNNI loop in halves of its 64-byte steps (blocks 16g .. 16g + 7, then 16g + 8 ..
// 16g + 15): the low and high nibbles of 32 weight bytes, each multiplied with A's matching
// codes by vpmaddubsw (pairs of unsigned × signed products into int16: at most 2 · 15 · 127, so
// the two nibbles' sum, 7620, cannot saturate), then vpmaddwd by ones into 8 int32 lanes.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv_columns.h"
#include "kernels/x86/nbits_int8.h"

namespace quench::x86::avx2 {
namespace {

// One column at a time, the weights read as one stream, prefetched this far ahead (as the
// AVX512_VNNI loop).
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
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const int8_t* codes = a.codes;
  for (int64_t g = 0; g < w.groups; ++g) {
    __m256i dot[2][R][C];  // blocks 16g .. 16g + 7, 16g + 8 .. 16g + 15
    for (int h = 0; h < 2; ++h) {
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) dot[h][r][c] = _mm256_setzero_si256();
      }
    }
    for (int64_t t = 0; t < steps; ++t, codes += 128) {
      for (int c = 0; c < C; ++c) {
        _mm_prefetch(reinterpret_cast<const char*>(b[c]) + kPrefetchBytes, _MM_HINT_T1);
      }
      for (int h = 0; h < 2; ++h) {
        __m256i lo[R], hi[R];
        for (int r = 0; r < R; ++r) {
          const int8_t* p = codes + r * a.row_codes + 32 * h;
          lo[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(p));
          hi[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(p + 64));
        }
        for (int c = 0; c < C; ++c) {
          const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[c] + 32 * h));
          const __m256i even = _mm256_and_si256(v, low);
          const __m256i odd = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
          for (int r = 0; r < R; ++r) {
            const __m256i pairs = _mm256_add_epi16(_mm256_maddubs_epi16(even, lo[r]),
                                                   _mm256_maddubs_epi16(odd, hi[r]));
            dot[h][r][c] = _mm256_add_epi32(dot[h][r][c], _mm256_madd_epi16(pairs, ones));
          }
        }
      }
      for (int c = 0; c < C; ++c) b[c] += 64;
    }
    for (int h = 0; h < 2; ++h) {
      const int64_t first = 16 * g + 8 * h;
      for (int c = 0; c < C; ++c) {
        const __m256 sb = _mm256_loadu_ps(scales[c] + first);
        const __m256i z = _mm256_cvtepi8_epi32(
            _mm_loadl_epi64(reinterpret_cast<const __m128i*>(zero_points[c] + first)));
        for (int r = 0; r < R; ++r) {
          const __m256i sums = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(a.code_sums + r * a.row_blocks + first));
          const __m256i d = _mm256_sub_epi32(dot[h][r][c], _mm256_mullo_epi32(z, sums));
          const __m256 sa = _mm256_loadu_ps(a.block_scales + r * a.row_blocks + first);
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(sa, sb), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) out[r][c] = hsum256(acc[r][c]);
  }
}

}  // namespace

void int4_int8_columns(const Int4GroupedWeights& w, const Int4Int8Rows& a, int64_t rows,
                       const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop, false>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx2

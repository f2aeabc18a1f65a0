// The int4 × int8 columns on AVX2 (nbits_int8.h, docs/quantization.md eq. (161)), as the
// AVX512_VNNI loop in halves of its 64-byte steps: the low and high nibbles of 32 weight bytes,
// each multiplied with A's matching codes by vpmaddubsw (pairs of unsigned × signed products into
// int16: at most 2 · 15 · 127, so the two halves' sum, 7620, cannot saturate), then vpmaddwd by
// ones into 8 int32 lanes of four products each.
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
  static void group(const Int4Weights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]);
};

template <int R, int C>
void Loop::group(const Int4Weights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]) {
  const int64_t column_bytes = w.k_blocks * (w.block_size / 2);
  const int64_t halves = (column_bytes + 31) / 32;  // 32 weight bytes each
  const uint8_t* b[C];
  const float* scales[C];
  for (int c = 0; c < C; ++c) {
    b[c] = w.b.data() + (n + c) * column_bytes;
    scales[c] = w.scales.data() + (n + c) * w.k_blocks;
  }
  const __m256i low = _mm256_set1_epi8(0x0F);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  // Half h (32 weight bytes, or the column's last 16) of each column, its products with the rows'
  // codes added to dot[r][c]. Step h / 2 of A holds the even codes at [0, 64) and the odd at
  // [64, 128); this half's are the (h % 2)-th 32 of each.
  auto multiply = [&](int64_t h, __m256i dot[R][C]) {
    __m256i lo[R], hi[R];
    for (int r = 0; r < R; ++r) {
      const int8_t* codes = a.codes + (r * a.steps + h / 2) * 128 + 32 * (h % 2);
      lo[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes));
      hi[r] = _mm256_load_si256(reinterpret_cast<const __m256i*>(codes + 64));
    }
    const bool whole = column_bytes - h * 32 >= 32;
    for (int c = 0; c < C; ++c) {
      const uint8_t* p = b[c] + h * 32;
      const __m256i v =
          whole ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))
                : _mm256_inserti128_si256(_mm256_setzero_si256(),
                                          _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), 0);
      if (h % 2 == 0) _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
      const __m256i even = _mm256_and_si256(v, low);
      const __m256i odd = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
      for (int r = 0; r < R; ++r) {
        const __m256i pairs =
            _mm256_add_epi16(_mm256_maddubs_epi16(even, lo[r]), _mm256_maddubs_epi16(odd, hi[r]));
        dot[r][c] = _mm256_add_epi32(dot[r][c], _mm256_madd_epi16(pairs, ones));
      }
    }
  };
  if (w.block_size >= 128) {
    const int64_t per_block = w.block_size / 64;
    for (int64_t j = 0; j < w.k_blocks; ++j) {
      __m256i dot[R][C];
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) dot[r][c] = _mm256_setzero_si256();
      }
      for (int64_t t = 0; t < per_block; ++t) multiply(j * per_block + t, dot);
      for (int r = 0; r < R; ++r) {
        const float sa = a.block_scales[r * w.k_blocks + j];
        for (int c = 0; c < C; ++c) {
          acc[r][c] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r][c]),
                                      _mm256_set1_ps(sa * scales[c][j]), acc[r][c]);
        }
      }
    }
  } else {
    // Blocks of 32 (lanes 0-3 and 4-7 in blocks 2h and 2h + 1) or 64 (all in block h).
    for (int64_t h = 0; h < halves; ++h) {
      __m256i dot[R][C];
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) dot[r][c] = _mm256_setzero_si256();
      }
      multiply(h, dot);
      for (int c = 0; c < C; ++c) {
        __m256 sb;
        if (w.block_size == 32) {
          const int64_t j = 2 * h;
          const float second = j + 1 < w.k_blocks ? scales[c][j + 1] : 0.f;
          sb = _mm256_set_m128(_mm_set1_ps(second), _mm_set1_ps(scales[c][j]));
        } else {
          sb = _mm256_set1_ps(scales[c][h]);
        }
        for (int r = 0; r < R; ++r) {
          const __m256 sa =
              _mm256_load_ps(a.lane_scales + (r * a.steps + h / 2) * 16 + 8 * (h % 2));
          acc[r][c] =
              _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[r][c]), _mm256_mul_ps(sa, sb), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const int8_t* z = w.zero_points.data() + (n + c) * w.k_blocks;
      out[r][c] = hsum256(acc[r][c]) -
                  zero_point_term256(scales[c], z, a.block_sums + r * w.k_blocks, w.k_blocks);
    }
  }
}

}  // namespace

void int4_int8_columns(const Int4Weights& w, const Int4Int8Rows& a, int64_t rows, const float* bias,
                       float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop, false>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx2

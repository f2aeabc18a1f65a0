#include <immintrin.h>

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86::avx2 {
namespace {

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One column for R rows (R known at compile time so the accumulators stay in registers).
template <int R>
void column(const Int4Weights& w, const float* perm, int64_t row_stride, int64_t n,
            float* out /*[R]*/) {
  const int64_t chunks = w.block_size / 32;
  const uint8_t* b = w.b.data() + n * w.k_blocks * (w.block_size / 2);
  const float* scales = w.scales.data() + n * w.k_blocks;
  const int8_t* zps = w.zero_points.data() + n * w.k_blocks;
  const __m128i low = _mm_set1_epi8(0x0F);
  // Independent sums per row so that FMA latency does not bound one row (4 rows fill the
  // registers with 2 each).
  constexpr int kSums = R <= 2 ? 4 : 2;
  __m256 acc[R][kSums];
  for (int r = 0; r < R; ++r) {
    for (int i = 0; i < kSums; ++i) acc[r][i] = _mm256_setzero_ps();
  }
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    const __m128i zp = _mm_set1_epi8(zps[j]);
    const __m256 scale = _mm256_set1_ps(scales[j]);
    const float* a = perm + j * w.block_size;
    for (int64_t c = 0; c < chunks; ++c, b += 16, a += 32) {
      const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
      const __m128i lo = _mm_sub_epi8(_mm_and_si128(bytes, low), zp);
      const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(bytes, 4), low), zp);
      // (q − z)·s for the 32 elements: even ones from the low nibbles, odd from the high.
      const __m256 w0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), scale);
      const __m256 w1 =
          _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), scale);
      const __m256 w2 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), scale);
      const __m256 w3 =
          _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), scale);
      for (int r = 0; r < R; ++r) {
        const float* x = a + r * row_stride;
        acc[r][0] = _mm256_fmadd_ps(w0, _mm256_load_ps(x), acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(w1, _mm256_load_ps(x + 8), acc[r][1]);
        acc[r][2 % kSums] = _mm256_fmadd_ps(w2, _mm256_load_ps(x + 16), acc[r][2 % kSums]);
        acc[r][3 % kSums] = _mm256_fmadd_ps(w3, _mm256_load_ps(x + 24), acc[r][3 % kSums]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    __m256 sum = acc[r][0];
    for (int i = 1; i < kSums; ++i) sum = _mm256_add_ps(sum, acc[r][i]);
    out[r] = hsum(sum);
  }
}

template <int R>
void columns(const Int4Weights& w, const float* perm, const float* bias, float* y, int64_t y_stride,
             int64_t n0, int64_t n1) {
  const int64_t row_stride = w.k_blocks * w.block_size;
  for (int64_t n = n0; n < n1; ++n) {
    float out[R];
    column<R>(w, perm, row_stride, n, out);
    for (int r = 0; r < R; ++r) y[r * y_stride + n] = out[r] + (bias ? bias[n] : 0.f);
  }
}

}  // namespace

void int4_columns(const Int4Weights& w, const float* perm, int64_t rows, const float* bias,
                  float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  switch (rows) {
    case 1:
      return columns<1>(w, perm, bias, y, y_stride, n0, n1);
    case 2:
      return columns<2>(w, perm, bias, y, y_stride, n0, n1);
    case 3:
      return columns<3>(w, perm, bias, y, y_stride, n0, n1);
    default:
      return columns<4>(w, perm, bias, y, y_stride, n0, n1);
  }
}

}  // namespace quench::x86::avx2

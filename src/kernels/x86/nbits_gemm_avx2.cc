// The int4 panels on AVX2 (nbits_gemm.h, docs/quantization.md eq. (156)): a chunk of a panel
// dequantized 32 columns (four registers) per row of K, then multiplied by 6 rows of A at a time,
// 16 columns at a time: 12 accumulators held in registers across the chunk, one broadcast of A
// per row and step.
#include <immintrin.h>

#include <algorithm>

#include "kernels/x86/nbits_gemm.h"

namespace quench::x86::avx2 {
namespace {

constexpr int kTileRows = 6;

// Columns 16h..16h+15 of the panel for R rows: 2R accumulators.
template <int R>
void tile(const float* a, int64_t lda, int64_t depth, const float* chunk, float* y, int64_t ldy,
          bool first, const float* init) {
  __m256 acc[R][2];
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < 2; ++v) {
      acc[r][v] = first ? (init ? _mm256_loadu_ps(init + 8 * v) : _mm256_setzero_ps())
                        : _mm256_loadu_ps(y + r * ldy + 8 * v);
    }
  }
  for (int64_t k = 0; k < depth; ++k, chunk += kInt4PanelWidth) {
    const __m256 b0 = _mm256_load_ps(chunk), b1 = _mm256_load_ps(chunk + 8);
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(a + r * lda + k);
      acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int v = 0; v < 2; ++v) _mm256_storeu_ps(y + r * ldy + 8 * v, acc[r][v]);
  }
}

template <int R>
void tile_halves(const float* a, int64_t lda, int64_t depth, const float* chunk, float* y,
                 int64_t ldy, bool first, const float* init) {
  for (int h = 0; h < 2; ++h) {
    tile<R>(a, lda, depth, chunk + 16 * h, y + 16 * h, ldy, first, init ? init + 16 * h : nullptr);
  }
}

// Eight columns' floats from eight codes (one byte each, nibble already selected).
__m256 dequantize8(__m256i q, const float* scales, const int32_t* zero_points) {
  const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zero_points));
  return _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, z)), _mm256_loadu_ps(scales));
}

}  // namespace

void dequantize_chunk(const Int4Panels& w, int64_t p, int64_t k0, int64_t k1, float* chunk) {
  const uint8_t* codes = w.codes.data() + (p * w.k + k0) * 16;
  const __m256i low = _mm256_set1_epi32(0x0F);
  for (int64_t k = k0; k < k1;) {
    const int64_t j = k / w.block_size, end = std::min(k1, (j + 1) * w.block_size);
    const float* s = w.scales.data() + (p * w.k_blocks + j) * kInt4PanelWidth;
    const int32_t* z = w.zero_points.data() + (p * w.k_blocks + j) * kInt4PanelWidth;
    for (; k < end; ++k, codes += 16, chunk += kInt4PanelWidth) {
      // Bytes 0-7 hold columns 0-7 (low nibbles) and 16-23 (high); bytes 8-15 columns 8-15, 24-31.
      const __m256i v0 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes)));
      const __m256i v1 =
          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + 8)));
      _mm256_store_ps(chunk, dequantize8(_mm256_and_si256(v0, low), s, z));
      _mm256_store_ps(chunk + 8, dequantize8(_mm256_and_si256(v1, low), s + 8, z + 8));
      _mm256_store_ps(chunk + 16, dequantize8(_mm256_srli_epi32(v0, 4), s + 16, z + 16));
      _mm256_store_ps(chunk + 24, dequantize8(_mm256_srli_epi32(v1, 4), s + 24, z + 24));
    }
  }
}

void multiply_chunk(const float* a, int64_t lda, int64_t rows, int64_t depth, const float* chunk,
                    float* y, int64_t ldy, bool first, const float* init) {
  int64_t r = 0;
  for (; r + kTileRows <= rows; r += kTileRows) {
    tile_halves<kTileRows>(a + r * lda, lda, depth, chunk, y + r * ldy, ldy, first, init);
  }
  a += r * lda;
  y += r * ldy;
  switch (rows - r) {
    case 0:
      return;
    case 1:
      return tile_halves<1>(a, lda, depth, chunk, y, ldy, first, init);
    case 2:
      return tile_halves<2>(a, lda, depth, chunk, y, ldy, first, init);
    case 3:
      return tile_halves<3>(a, lda, depth, chunk, y, ldy, first, init);
    case 4:
      return tile_halves<4>(a, lda, depth, chunk, y, ldy, first, init);
    default:
      return tile_halves<5>(a, lda, depth, chunk, y, ldy, first, init);
  }
}

}  // namespace quench::x86::avx2

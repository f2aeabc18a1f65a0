// The exact AVX2 product of PackedInt8GemvAvx2 (int8_gemv.h), compiled for AVX2.
#include <immintrin.h>

#include "kernels/x86/int8_gemv.h"

namespace quench::x86::avx2 {
namespace {

// The 8 columns of one half block (16 bytes: 8 columns x 2 taps) times the broadcast pair.
inline __m256i madd_half(__m256i acc, __m256i x_pair, const int8_t* w) {
  const __m256i w16 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(x_pair, w16));
}

}  // namespace

void gemv_s16s8(const int32_t* pairs, int64_t count, const int8_t* packed, int64_t n,
                int32_t* acc) {
  const int64_t blocks = n / 16, block_bytes = count * 32;
  int64_t block = 0;
  auto store = [&](int64_t at, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(acc + at), v);
  };
  // Four blocks (64 columns) at a time: eight independent accumulators per broadcast pair.
  for (; block + 4 <= blocks; block += 4) {
    const int8_t* w0 = packed + block * block_bytes;
    const int8_t* w1 = w0 + block_bytes;
    const int8_t* w2 = w1 + block_bytes;
    const int8_t* w3 = w2 + block_bytes;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0,
            a7 = a0;
    for (int64_t pair = 0; pair < count; ++pair) {
      const __m256i x = _mm256_set1_epi32(pairs[pair]);
      const int64_t at = pair * 32;
      a0 = madd_half(a0, x, w0 + at);
      a1 = madd_half(a1, x, w0 + at + 16);
      a2 = madd_half(a2, x, w1 + at);
      a3 = madd_half(a3, x, w1 + at + 16);
      a4 = madd_half(a4, x, w2 + at);
      a5 = madd_half(a5, x, w2 + at + 16);
      a6 = madd_half(a6, x, w3 + at);
      a7 = madd_half(a7, x, w3 + at + 16);
    }
    const int64_t col = block * 16;
    store(col, a0);
    store(col + 8, a1);
    store(col + 16, a2);
    store(col + 24, a3);
    store(col + 32, a4);
    store(col + 40, a5);
    store(col + 48, a6);
    store(col + 56, a7);
  }
  for (; block < blocks; ++block) {
    const int8_t* w = packed + block * block_bytes;
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (int64_t pair = 0; pair < count; ++pair) {
      const __m256i x = _mm256_set1_epi32(pairs[pair]);
      a0 = madd_half(a0, x, w + pair * 32);
      a1 = madd_half(a1, x, w + pair * 32 + 16);
    }
    store(block * 16, a0);
    store(block * 16 + 8, a1);
  }
}

}  // namespace quench::x86::avx2

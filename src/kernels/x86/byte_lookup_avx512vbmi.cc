// byte_lookup (byte_lookup.h) compiled for AVX-512 VBMI.
#include <immintrin.h>

#include "kernels/x86/byte_lookup.h"

namespace quench::x86::avx512vbmi {

void byte_lookup(const uint8_t* table, const uint8_t* x, uint8_t* y, int64_t count, uint8_t flip) {
  // vpermi2b picks from 128 entries by an index's low 7 bits; its top bit chooses the half.
  const __m512i t0 = _mm512_loadu_si512(table), t1 = _mm512_loadu_si512(table + 64);
  const __m512i t2 = _mm512_loadu_si512(table + 128), t3 = _mm512_loadu_si512(table + 192);
  const __m512i vflip = _mm512_set1_epi8(static_cast<char>(flip));
  int64_t i = 0;
  for (; i + 64 <= count; i += 64) {
    const __m512i index = _mm512_xor_si512(_mm512_loadu_si512(x + i), vflip);
    const __m512i low = _mm512_permutex2var_epi8(t0, index, t1);
    const __m512i high = _mm512_permutex2var_epi8(t2, index, t3);
    _mm512_storeu_si512(y + i, _mm512_mask_blend_epi8(_mm512_movepi8_mask(index), low, high));
  }
  for (; i < count; ++i) y[i] = table[x[i] ^ flip];
}

}  // namespace quench::x86::avx512vbmi

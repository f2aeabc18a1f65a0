// The VNNI product of PackedInt8Gemv (int8_gemv.h), compiled for AVX-512 VNNI.
#include <immintrin.h>

#include "kernels/x86/int8_gemv.h"

namespace quench::x86::avx512vnni {

void gemv_u8s8(const int32_t* quads, int64_t groups, const int8_t* packed, int64_t n,
               int32_t* acc) {
  const int64_t blocks = n / 16;
  const int8_t* w = packed;
  int64_t block = 0;
  for (; block + 4 <= blocks; block += 4) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    const int8_t* w0 = w + block * groups * 64;
    const int8_t* w1 = w0 + groups * 64;
    const int8_t* w2 = w1 + groups * 64;
    const int8_t* w3 = w2 + groups * 64;
    for (int64_t group = 0; group < groups; ++group) {
      const __m512i xq = _mm512_set1_epi32(quads[group]);
      a0 = _mm512_dpbusd_epi32(a0, xq, _mm512_loadu_si512(w0 + group * 64));
      a1 = _mm512_dpbusd_epi32(a1, xq, _mm512_loadu_si512(w1 + group * 64));
      a2 = _mm512_dpbusd_epi32(a2, xq, _mm512_loadu_si512(w2 + group * 64));
      a3 = _mm512_dpbusd_epi32(a3, xq, _mm512_loadu_si512(w3 + group * 64));
    }
    _mm512_storeu_si512(acc + block * 16, a0);
    _mm512_storeu_si512(acc + block * 16 + 16, a1);
    _mm512_storeu_si512(acc + block * 16 + 32, a2);
    _mm512_storeu_si512(acc + block * 16 + 48, a3);
  }
  for (; block < blocks; ++block) {
    __m512i a = _mm512_setzero_si512();
    const int8_t* wb = w + block * groups * 64;
    for (int64_t group = 0; group < groups; ++group) {
      a = _mm512_dpbusd_epi32(a, _mm512_set1_epi32(quads[group]),
                              _mm512_loadu_si512(wb + group * 64));
    }
    _mm512_storeu_si512(acc + block * 16, a);
  }
}

}  // namespace quench::x86::avx512vnni

#include "kernels/x86/int8_gemv.h"

#ifdef QUENCH_INT8_GEMV
#include <immintrin.h>

#include <algorithm>
#include <cstring>

namespace quench::x86 {

PackedInt8Gemv::PackedInt8Gemv(const int8_t* w, int64_t k, int64_t n, int32_t w_zero_point)
    : k_(k), n_(n), groups_((k + 3) / 4), w_zero_point_(w_zero_point) {
  packed_.assign(static_cast<size_t>(n / 16 * groups_ * 64), 0);
  column_sums_.assign(static_cast<size_t>(n), 0);
  for (int64_t tap = 0; tap < k; ++tap) {
    for (int64_t column = 0; column < n; ++column) {
      const int8_t v = w[tap * n + column];
      packed_[((column / 16 * groups_ + tap / 4) * 16 + column % 16) * 4 + tap % 4] = v;
      column_sums_[column] += v;
    }
  }
}

void PackedInt8Gemv::multiply(const uint8_t* x, int32_t x_zero_point, int32_t* acc) const {
  int32_t x_sum = 0;
  for (int64_t tap = 0; tap < k_; ++tap) x_sum += x[tap];
  int32_t quads[kMaxTaps / 4];
  for (int64_t group = 0; group < groups_; ++group) {
    uint8_t bytes[4] = {};
    for (int64_t tap = 4 * group; tap < std::min(k_, 4 * group + 4); ++tap) {
      bytes[tap % 4] = x[tap];
    }
    std::memcpy(&quads[group], bytes, 4);
  }
  const int64_t blocks = n_ / 16;
  const int8_t* w = packed_.data();
  int64_t block = 0;
  for (; block + 4 <= blocks; block += 4) {
    __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
    const int8_t* w0 = w + block * groups_ * 64;
    const int8_t* w1 = w0 + groups_ * 64;
    const int8_t* w2 = w1 + groups_ * 64;
    const int8_t* w3 = w2 + groups_ * 64;
    for (int64_t group = 0; group < groups_; ++group) {
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
    const int8_t* wb = w + block * groups_ * 64;
    for (int64_t group = 0; group < groups_; ++group) {
      a = _mm512_dpbusd_epi32(a, _mm512_set1_epi32(quads[group]),
                              _mm512_loadu_si512(wb + group * 64));
    }
    _mm512_storeu_si512(acc + block * 16, a);
  }
  const int32_t constant =
      static_cast<int32_t>(k_) * x_zero_point * w_zero_point_ - w_zero_point_ * x_sum;
  for (int64_t column = 0; column < n_; ++column) {
    acc[column] += constant - x_zero_point * column_sums_[column];
  }
}

}  // namespace quench::x86
#endif

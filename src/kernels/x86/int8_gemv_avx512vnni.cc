// The VNNI product of PackedInt8Gemv (int8_gemv.h), compiled for AVX-512 VNNI.
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_gemv.h"

namespace quench::x86::avx512vnni {
namespace {

// The 4 bytes of x at `at` broadcast to every int32 lane.
inline __m512i quad(const uint8_t* at) {
  int32_t v;
  std::memcpy(&v, at, 4);
  return _mm512_set1_epi32(v);
}

// One row's accumulators over four blocks of 16 columns.
struct Acc4 {
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
  void add(__m512i x, __m512i w0, __m512i w1, __m512i w2, __m512i w3) {
    c0 = _mm512_dpbusd_epi32(c0, x, w0);
    c1 = _mm512_dpbusd_epi32(c1, x, w1);
    c2 = _mm512_dpbusd_epi32(c2, x, w2);
    c3 = _mm512_dpbusd_epi32(c3, x, w3);
  }
  void store(int32_t* out) const {
    _mm512_storeu_si512(out, c0);
    _mm512_storeu_si512(out + 16, c1);
    _mm512_storeu_si512(out + 32, c2);
    _mm512_storeu_si512(out + 48, c3);
  }
};

// How far ahead of its reads tile4 prefetches the weights (into L1): R of a recurrent layer
// (64 KiB for hidden 128) lives in L2, and the hardware prefetchers do not run far enough ahead
// for one step's product (the dynamic LSTM at batch 1: 102 -> 92 us; a standalone loop of
// 128 x 512 products with two matrices: 0.80 -> 0.70 us each, 0.77 of it from the interleaved
// packing alone).
constexpr int64_t kAhead = 2048;

// The sums Σ x·w of kRows rows × 4 blocks of 16 columns: each step loads 4 weight vectors once
// and broadcasts one 4-byte group of every row (up to 16 accumulators + 4 weights + 1 broadcast
// registers).
template <int kRows>
void tile4(const uint8_t* x, int64_t ldx, int64_t groups, const int8_t* w, int32_t* acc,
           int64_t n) {
  Acc4 r0, r1, r2, r3;
  for (int64_t g = 0; g < groups; ++g) {
    // The tile's four blocks of 16 columns, interleaved group by group (one stream).
    const int8_t* at = w + g * 256;
    _mm_prefetch(reinterpret_cast<const char*>(at + kAhead), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(at + kAhead + 64), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(at + kAhead + 128), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(at + kAhead + 192), _MM_HINT_T0);
    const __m512i w0 = _mm512_loadu_si512(at), w1 = _mm512_loadu_si512(at + 64);
    const __m512i w2 = _mm512_loadu_si512(at + 128);
    const __m512i w3 = _mm512_loadu_si512(at + 192);
    const uint8_t* xg = x + 4 * g;
    r0.add(quad(xg), w0, w1, w2, w3);
    if constexpr (kRows > 1) r1.add(quad(xg + ldx), w0, w1, w2, w3);
    if constexpr (kRows > 2) r2.add(quad(xg + 2 * ldx), w0, w1, w2, w3);
    if constexpr (kRows > 3) r3.add(quad(xg + 3 * ldx), w0, w1, w2, w3);
  }
  r0.store(acc);
  if constexpr (kRows > 1) r1.store(acc + n);
  if constexpr (kRows > 2) r2.store(acc + 2 * n);
  if constexpr (kRows > 3) r3.store(acc + 3 * n);
}

// kRows rows × one block of 16 columns (the tail of n).
template <int kRows>
void tile1(const uint8_t* x, int64_t ldx, int64_t groups, const int8_t* w, int32_t* acc,
           int64_t n) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t g = 0; g < groups; ++g) {
    const __m512i wv = _mm512_loadu_si512(w + g * 64);
    const uint8_t* xg = x + 4 * g;
    a0 = _mm512_dpbusd_epi32(a0, quad(xg), wv);
    if constexpr (kRows > 1) a1 = _mm512_dpbusd_epi32(a1, quad(xg + ldx), wv);
    if constexpr (kRows > 2) a2 = _mm512_dpbusd_epi32(a2, quad(xg + 2 * ldx), wv);
    if constexpr (kRows > 3) a3 = _mm512_dpbusd_epi32(a3, quad(xg + 3 * ldx), wv);
  }
  _mm512_storeu_si512(acc, a0);
  if constexpr (kRows > 1) _mm512_storeu_si512(acc + n, a1);
  if constexpr (kRows > 2) _mm512_storeu_si512(acc + 2 * n, a2);
  if constexpr (kRows > 3) _mm512_storeu_si512(acc + 3 * n, a3);
}

// kRows rows of x, ldx bytes apart, each 4·groups bytes long.
template <int kRows>
void rows(const uint8_t* x, int64_t ldx, int64_t groups, const int8_t* packed, int64_t n,
          int32_t* acc) {
  const int64_t blocks = n / 16;
  int64_t block = 0;
  for (; block + 4 <= blocks; block += 4) {
    tile4<kRows>(x, ldx, groups, packed + block * groups * 64, acc + block * 16, n);
  }
  for (; block < blocks; ++block) {
    tile1<kRows>(x, ldx, groups, packed + block * groups * 64, acc + block * 16, n);
  }
}

// Σ of k bytes.
int32_t byte_sum(const uint8_t* x, int64_t k) {
  __m512i sum = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) {
    sum = _mm512_add_epi64(sum, _mm512_sad_epu8(_mm512_loadu_si512(x + i), _mm512_setzero_si512()));
  }
  if (i < k) {
    const __mmask64 tail = (uint64_t{1} << (k - i)) - 1;  // k − i < 64
    sum = _mm512_add_epi64(
        sum, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(tail, x + i), _mm512_setzero_si512()));
  }
  alignas(64) int64_t lanes[8];  // not _mm512_reduce_add_epi64: GCC 12 warns inside it
  _mm512_store_si512(lanes, sum);
  int64_t total = 0;
  for (int64_t lane : lanes) total += lane;
  return static_cast<int32_t>(total);
}

// The zero points on the n sums of one row (n a multiple of 16): + row_constant − z_x ·
// column_sums. A pass of its own: GCC 12 copies every accumulator of tile4 twice per step when
// the loop's results feed more arithmetic instead of a store.
void zero_points(int32_t row_constant, int32_t x_zero_point, const int32_t* column_sums, int64_t n,
                 int32_t* out) {
  const __m256i c = _mm256_set1_epi32(row_constant), zx = _mm256_set1_epi32(x_zero_point);
  for (int64_t i = 0; i < n; i += 8) {
    const __m256i shift = _mm256_mullo_epi32(
        zx, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(column_sums + i)));
    __m256i* o = reinterpret_cast<__m256i*>(out + i);
    _mm256_storeu_si256(o, _mm256_sub_epi32(_mm256_add_epi32(_mm256_loadu_si256(o), c), shift));
  }
}

}  // namespace

void gemm_u8s8(const uint8_t* x, int64_t m, int64_t k, const int8_t* packed, int64_t n,
               int32_t x_zero_point, int32_t w_zero_point, const int32_t* column_sums,
               int32_t* acc) {
  const int64_t groups = (k + 3) / 4;
  // Rows of x whose length is not a multiple of 4 are copied, padded with zeros, one tile at a
  // time; the others are read where they are.
  alignas(64) uint8_t padded[kRows * PackedInt8Gemv::kMaxTaps];
  const int32_t constant = static_cast<int32_t>(k) * x_zero_point * w_zero_point;
  for (int64_t first = 0; first < m; first += kRows) {
    const int64_t count = std::min(kRows, m - first);
    const uint8_t* rows_x = x + first * k;
    int64_t ldx = k;
    if (k % 4 != 0) {
      ldx = 4 * groups;
      for (int64_t r = 0; r < count; ++r) {
        std::memcpy(padded + r * ldx, rows_x + r * k, static_cast<size_t>(k));
        std::memset(padded + r * ldx + k, 0, static_cast<size_t>(ldx - k));
      }
      rows_x = padded;
    }
    int32_t* out = acc + first * n;
    switch (count) {
      case 1:
        rows<1>(rows_x, ldx, groups, packed, n, out);
        break;
      case 2:
        rows<2>(rows_x, ldx, groups, packed, n, out);
        break;
      case 3:
        rows<3>(rows_x, ldx, groups, packed, n, out);
        break;
      default:
        rows<4>(rows_x, ldx, groups, packed, n, out);
        break;
    }
    for (int64_t r = 0; r < count; ++r) {
      const int32_t row_constant = constant - w_zero_point * byte_sum(x + (first + r) * k, k);
      zero_points(row_constant, x_zero_point, column_sums, n, out + r * n);
    }
  }
}

}  // namespace quench::x86::avx512vnni

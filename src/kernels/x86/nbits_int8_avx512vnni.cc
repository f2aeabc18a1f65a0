// The int4 × int8 columns on AVX512_VNNI (nbits_int8.h, docs/quantization.md eq. (161)): each 64
// weight bytes (128 codes) split into low and high nibbles (`& 15`, `>> 4 & 15`), each multiplied
// with A's 64 matching codes by one vpdpbusd (unsigned weight codes times signed A codes, four
// products summed into each of 16 int32 lanes). Blocks of 128 or more elements keep the int32
// sums over the whole block and scale them once; blocks of 32 and 64 scale every step's lanes by
// their own block's two scales. The zero points come off afterwards with A's scaled block sums.
#include <immintrin.h>

#include "kernels/x86/nbits_gemv_columns.h"
#include "kernels/x86/nbits_int8.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512vnni {
namespace {

// The columns are taken one at a time, so the weights are read as one stream, back to back (four
// interleaved column streams ran at 40-50% of the read bandwidth of an AMD EPYC Zen 4, one at
// 70-90%: bench/nbits_gemv); each step prefetches the line this far ahead, into the next columns.
constexpr int64_t kPrefetchBytes = 8192;

// C columns n..n+C-1 for R rows (eq. (161)).
struct Loop {
  template <int R, int C>
  static void group(const Int4Weights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]);
};

template <int R, int C>
void Loop::group(const Int4Weights& w, const Int4Int8Rows& a, int64_t n, float out[R][C]) {
  const int64_t column_bytes = w.k_blocks * (w.block_size / 2);
  const uint8_t* b[C];
  const float* scales[C];
  for (int c = 0; c < C; ++c) {
    b[c] = w.b.data() + (n + c) * column_bytes;
    scales[c] = w.scales.data() + (n + c) * w.k_blocks;
  }
  const __m512i low = _mm512_set1_epi8(0x0F);
  __m512 acc[R][C];
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) acc[r][c] = _mm512_setzero_ps();
  }
  // The 64 bytes of column c at step `step` (`mask`: the bytes within the column), their products
  // with the rows' codes added to dot[r][c].
  auto multiply = [&](int64_t step, __mmask64 mask, __m512i dot[R][C]) {
    __m512i lo[R], hi[R];
    for (int r = 0; r < R; ++r) {
      const int8_t* codes = a.codes + (r * a.steps + step) * 128;
      lo[r] = _mm512_load_si512(codes);
      hi[r] = _mm512_load_si512(codes + 64);
    }
    for (int c = 0; c < C; ++c) {
      const __m512i v = _mm512_maskz_loadu_epi8(mask, b[c] + step * 64);
      _mm_prefetch(reinterpret_cast<const char*>(b[c] + step * 64) + kPrefetchBytes, _MM_HINT_T0);
      const __m512i even = _mm512_and_si512(v, low);
      const __m512i odd = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);
      for (int r = 0; r < R; ++r) {
        dot[r][c] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(dot[r][c], even, lo[r]), odd, hi[r]);
      }
    }
  };
  if (w.block_size >= 128) {
    const int64_t per_block = w.block_size / 128;
    for (int64_t j = 0; j < w.k_blocks; ++j) {
      __m512i dot[R][C];
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) dot[r][c] = _mm512_setzero_si512();
      }
      for (int64_t t = 0; t < per_block; ++t) multiply(j * per_block + t, ~__mmask64{0}, dot);
      for (int r = 0; r < R; ++r) {
        const float sa = a.block_scales[r * w.k_blocks + j];
        for (int c = 0; c < C; ++c) {
          acc[r][c] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][c]),
                                      _mm512_set1_ps(sa * scales[c][j]), acc[r][c]);
        }
      }
    }
  } else {
    // Blocks of 32 or 64: lane l lies in the step's block l / 4 or l / 8.
    const int64_t per_step = 128 / w.block_size;
    const __m512i block_of_lane =
        per_step == 4 ? _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0)
                      : _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    for (int64_t step = 0; step < a.steps; ++step) {
      const int64_t bytes = std::min<int64_t>(64, column_bytes - step * 64);
      const int64_t blocks = std::min(per_step, w.k_blocks - step * per_step);
      const __mmask64 mask = bytes == 64 ? ~__mmask64{0} : (__mmask64{1} << bytes) - 1;
      const __mmask16 block_mask = static_cast<__mmask16>((1u << blocks) - 1);
      __m512i dot[R][C];
      for (int r = 0; r < R; ++r) {
        for (int c = 0; c < C; ++c) dot[r][c] = _mm512_setzero_si512();
      }
      multiply(step, mask, dot);
      for (int c = 0; c < C; ++c) {
        const __m512 sb = _mm512_permutexvar_ps(
            block_of_lane, _mm512_maskz_loadu_ps(block_mask, scales[c] + step * per_step));
        for (int r = 0; r < R; ++r) {
          const __m512 sa = _mm512_load_ps(a.lane_scales + (r * a.steps + step) * 16);
          acc[r][c] =
              _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[r][c]), _mm512_mul_ps(sa, sb), acc[r][c]);
        }
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int c = 0; c < C; ++c) {
      const int8_t* z = w.zero_points.data() + (n + c) * w.k_blocks;
      out[r][c] = _mm512_reduce_add_ps(acc[r][c]) -
                  zero_point_term512(scales[c], z, a.block_sums + r * w.k_blocks, w.k_blocks);
    }
  }
}

}  // namespace

void int4_int8_columns(const Int4Weights& w, const Int4Int8Rows& a, int64_t rows, const float* bias,
                       float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  int4_columns_with<Loop, false>(w, a, rows, bias, y, y_stride, n0, n1);
}

}  // namespace quench::x86::avx512vnni

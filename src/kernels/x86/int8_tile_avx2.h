// AVX2 building blocks of the x86 int8 kernels: the register-tiled product of packed operands
// (int8_gemm.h) and the epilogue that turns a tile row of int32 sums into outputs
// (int8_epilogue.h). Included only by files compiled with -mavx2 -mfma (*_avx2.cc), which run
// only where x86::cpu_features().avx2.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/int8_epilogue.h"
#include "kernels/x86/int8_gemm.h"

#define QUENCH_AVX2_INLINE inline __attribute__((always_inline))

namespace quench::x86::avx2 {

// One row of the tile: 16 products of A's broadcast pair with B's two vectors of 8 pairs.
// vpmaddwd is exact (eq. (62)); vpaddd wraps like the int32 accumulator of eq. (34).
QUENCH_AVX2_INLINE void madd_row(__m256i& acc0, __m256i& acc1, const int32_t* a, __m256i b0,
                                 __m256i b1) {
  const __m256i pair = _mm256_set1_epi32(*a);
  acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(pair, b0));
  acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(pair, b1));
}

QUENCH_AVX2_INLINE void store_row(int32_t* c, __m256i acc0, __m256i acc1) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), acc0);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + 8), acc1);
}

// The sums of `Rows` (1..kTileRows) rows of A and 16 columns of B, written to c[row * c_stride +
// col].
// Row r's pair k is rows[r][offset(k)], the reduction running tap by tap over `pairs` pairs:
// offset = tap_offsets[tap] + pair * pair_stride (a matrix: one tap at offset 0, pair_stride 1; a
// convolution: each tap's shift in the padded input, whose channel pairs lie pair_stride apart).
// B is one panel: 16 pairs per k, k in the same order. Named accumulators (not an array) keep all
// twelve in registers.
template <int Rows>
QUENCH_AVX2_INLINE void tile(const int32_t* const* rows, int64_t taps, const int64_t* tap_offsets,
                             int64_t pairs, int64_t pair_stride, const int32_t* b, int32_t* c,
                             int64_t c_stride) {
  static_assert(Rows >= 1 && Rows <= kTileRows);
  const __m256i zero = _mm256_setzero_si256();
  __m256i c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero;
  __m256i c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero;
  const int32_t* a0 = rows[0];
  const int32_t* a1 = Rows > 1 ? rows[1] : a0;
  const int32_t* a2 = Rows > 2 ? rows[2] : a0;
  const int32_t* a3 = Rows > 3 ? rows[3] : a0;
  const int32_t* a4 = Rows > 4 ? rows[4] : a0;
  const int32_t* a5 = Rows > 5 ? rows[5] : a0;
  for (int64_t tap = 0; tap < taps; ++tap) {
    int64_t at = tap_offsets[tap];
    for (int64_t pair = 0; pair < pairs; ++pair, at += pair_stride) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
      b += kTileCols;
      madd_row(c00, c01, a0 + at, b0, b1);
      if constexpr (Rows > 1) madd_row(c10, c11, a1 + at, b0, b1);
      if constexpr (Rows > 2) madd_row(c20, c21, a2 + at, b0, b1);
      if constexpr (Rows > 3) madd_row(c30, c31, a3 + at, b0, b1);
      if constexpr (Rows > 4) madd_row(c40, c41, a4 + at, b0, b1);
      if constexpr (Rows > 5) madd_row(c50, c51, a5 + at, b0, b1);
    }
  }
  store_row(c, c00, c01);
  if constexpr (Rows > 1) store_row(c + c_stride, c10, c11);
  if constexpr (Rows > 2) store_row(c + 2 * c_stride, c20, c21);
  if constexpr (Rows > 3) store_row(c + 3 * c_stride, c30, c31);
  if constexpr (Rows > 4) store_row(c + 4 * c_stride, c40, c41);
  if constexpr (Rows > 5) store_row(c + 5 * c_stride, c50, c51);
}

// Runs tile<rows> for a run-time row count (1..kTileRows).
inline void tile_rows(int rows, const int32_t* const* a, int64_t taps, const int64_t* tap_offsets,
                      int64_t pairs, int64_t pair_stride, const int32_t* b, int32_t* c,
                      int64_t c_stride = kTileCols) {
  switch (rows) {
    case 6:
      return tile<6>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
    case 5:
      return tile<5>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
    case 4:
      return tile<4>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
    case 3:
      return tile<3>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
    case 2:
      return tile<2>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
    default:
      return tile<1>(a, taps, tap_offsets, pairs, pair_stride, b, c, c_stride);
  }
}

// tile_rows for rows of a matrix, `row_stride` apart, reduced over `pairs` consecutive pairs.
inline void matrix_tile(int rows, const int32_t* a, int64_t row_stride, int64_t pairs,
                        const int32_t* b, int32_t* c, int64_t c_stride = kTileCols) {
  const int32_t* row_pointers[kTileRows];
  for (int r = 0; r < kTileRows; ++r) row_pointers[r] = a + (r < rows ? r : 0) * row_stride;
  constexpr int64_t kNoShift = 0;
  tile_rows(rows, row_pointers, 1, &kNoShift, pairs, 1, b, c, c_stride);
}

// ---- Epilogue ----

// 8 lanes of `count` from `from` (the rest 0).
QUENCH_AVX2_INLINE __m256i lane_mask(int from, int count) {
  const __m256i index = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count - from), index);
}

// A tile row's multipliers and bias for columns [col, col + count); one column's in every lane when
// count is 1.
struct RowParams {
  __m256 multiplier0, multiplier1;
  __m256i bias0, bias1;
  __m256 float_bias0, float_bias1;  // kF32Bias
};

// The floats of columns [col, col + count) from `at` (their first) into two vectors of 8 lanes;
// one value in every lane when `broadcast` (a parameter per tensor or per row) or count is 1.
QUENCH_AVX2_INLINE void float_columns(const float* at, bool broadcast, int count, __m256& v0,
                                      __m256& v1) {
  if (broadcast || count == 1) {
    v0 = v1 = _mm256_set1_ps(*at);
  } else if (count == kTileCols) {
    v0 = _mm256_loadu_ps(at);
    v1 = _mm256_loadu_ps(at + 8);
  } else {
    v0 = _mm256_maskload_ps(at, lane_mask(0, count));
    v1 = _mm256_maskload_ps(at + 8, lane_mask(8, count));
  }
}

QUENCH_AVX2_INLINE RowParams row_params(const Epilogue& e, int64_t row, int64_t col, int count) {
  RowParams p;
  p.multiplier0 = p.multiplier1 = _mm256_setzero_ps();
  if (e.multipliers != nullptr) {
    const float* m = e.multipliers + row * e.multiplier_row_stride + col * e.multiplier_col_stride;
    float_columns(m, e.multiplier_col_stride == 0, count, p.multiplier0, p.multiplier1);
  }
  p.bias0 = p.bias1 = _mm256_setzero_si256();
  if (e.bias != nullptr) {
    const int32_t* b = e.bias + row * e.bias_row_stride + col * e.bias_col_stride;
    if (e.bias_col_stride == 0 || count == 1) {
      p.bias0 = p.bias1 = _mm256_set1_epi32(*b);
    } else if (count == kTileCols) {
      p.bias0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      p.bias1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 8));
    } else {
      p.bias0 = _mm256_maskload_epi32(b, lane_mask(0, count));
      p.bias1 = _mm256_maskload_epi32(b + 8, lane_mask(8, count));
    }
  }
  p.float_bias0 = p.float_bias1 = _mm256_setzero_ps();
  if (e.float_bias != nullptr) {
    float_columns(e.float_bias + col, false, count, p.float_bias0, p.float_bias1);
  }
  return p;
}

QUENCH_AVX2_INLINE __m256 round_half_even(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
QUENCH_AVX2_INLINE __m256d round_half_even(__m256d v) {
  return _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// Per-run constants of the requantizing epilogue.
struct RequantConstants {
  __m256 low, high;       // eq. (46) bounds (float path: without a sum they are floats)
  __m256d low_d, high_d;  // the same in double (with a sum)
  __m256 q_low, q_high;   // [q_min − z_y, q_max − z_y]: saturate() before adding z_y
  __m256d q_low_d, q_high_d;
  __m256 merged_low, merged_high;  // eq. (64): both clamps before rounding
  __m256i zero_point;
  __m256d sum_ratio;
  __m256 sum_ratio_float;
  __m256i sum_zero_point;
};

template <OutKind Out>
RequantConstants requant_constants(const Epilogue& e) {
  RequantConstants k;
  const double q_min = Out == OutKind::kU8 ? 0 : -128;
  const double q_max = Out == OutKind::kU8 ? 255 : 127;
  const RequantBounds b = requant_bounds(e, Out);
  k.low = _mm256_set1_ps(b.low);
  k.high = _mm256_set1_ps(b.high);
  k.low_d = _mm256_set1_pd(e.low);
  k.high_d = _mm256_set1_pd(e.high);
  k.q_low_d = _mm256_set1_pd(q_min - e.zero_point);
  k.q_high_d = _mm256_set1_pd(q_max - e.zero_point);
  k.q_low = _mm256_set1_ps(b.q_low);
  k.q_high = _mm256_set1_ps(b.q_high);
  k.merged_low = _mm256_set1_ps(b.merged_low);
  k.merged_high = _mm256_set1_ps(b.merged_high);
  k.zero_point = _mm256_set1_epi32(e.zero_point);
  k.sum_ratio = _mm256_set1_pd(e.sum_ratio);
  k.sum_ratio_float = _mm256_set1_ps(static_cast<float>(e.sum_ratio));  // a float widened: exact
  k.sum_zero_point = _mm256_set1_epi32(e.sum_zero_point);
  return k;
}

// Eqs. (35), (46) without a sum, 8 lanes: v = float(acc) · M; v clamped to [low, high] (a NaN
// stays NaN, as std::clamp leaves it); rounded half to even; saturated by clamping the rounded
// value to [q_min − z, q_max − z] (NaN to q_min − z, as saturate() sends NaN to q_min) and adding
// z in int32. Without act bounds, low and high are infinite and the clamp changes nothing; a float
// v clamped by float bounds and rounded equals the reference's double steps on the same value.
// With `Finite` (every multiplier, and the sum's ratio, finite: v is never NaN), eq. (64): one
// clamp to the merged bounds, then vcvtps2dq rounds half to even (the default rounding mode).
template <bool Finite>
QUENCH_AVX2_INLINE __m256i saturate_rounded(const RequantConstants& k, __m256 v) {
  if constexpr (Finite) {
    v = _mm256_min_ps(k.merged_high, _mm256_max_ps(k.merged_low, v));
  } else {
    v = _mm256_min_ps(k.high, _mm256_max_ps(k.low, v));
    v = round_half_even(v);
    v = _mm256_min_ps(_mm256_max_ps(v, k.q_low), k.q_high);
  }
  return _mm256_add_epi32(_mm256_cvtps_epi32(v), k.zero_point);
}

template <bool Finite>
QUENCH_AVX2_INLINE __m256i requant8(const RequantConstants& k, __m256i acc, __m256 multiplier) {
  return saturate_rounded<Finite>(k, _mm256_mul_ps(_mm256_cvtepi32_ps(acc), multiplier));
}

// Eqs. (45), (46) with a sum, 4 lanes: the float product widened to double, plus r_sum · (sum −
// z_sum) (the product is exact in double, so an FMA rounds the sum once, as the reference's
// separate multiply and add do), then the clamp, rounding and saturation in double.
QUENCH_AVX2_INLINE __m128i requant4_sum(const RequantConstants& k, __m128 product,
                                        __m128i centered_sum) {
  __m256d v = _mm256_cvtps_pd(product);
  v = _mm256_fmadd_pd(k.sum_ratio, _mm256_cvtepi32_pd(centered_sum), v);
  v = _mm256_min_pd(k.high_d, _mm256_max_pd(k.low_d, v));
  v = round_half_even(v);
  v = _mm256_min_pd(_mm256_max_pd(v, k.q_low_d), k.q_high_d);
  return _mm_add_epi32(_mm256_cvtpd_epi32(v), _mm256_castsi256_si128(k.zero_point));
}

QUENCH_AVX2_INLINE __m256i requant8_sum_double(const RequantConstants& k, __m256 product,
                                               __m256i centered) {
  const __m128i low =
      requant4_sum(k, _mm256_castps256_ps128(product), _mm256_castsi256_si128(centered));
  const __m128i high =
      requant4_sum(k, _mm256_extractf128_ps(product, 1), _mm256_extracti128_si256(centered, 1));
  return _mm256_inserti128_si256(_mm256_castsi128_si256(low), high, 1);
}

// Eq. (63): the sum term added in float, whose result rounds as eq. (45)'s double sum does
// unless a half-integer lies within 2^-22 · (|term| + |v|) of it; such vectors (and any with an
// infinite or NaN value) are redone in double. Then eq. (46)'s steps in float, as requant8.
template <bool Finite>
QUENCH_AVX2_INLINE __m256i requant8_sum(const RequantConstants& k, __m256i acc, __m256 multiplier,
                                        __m256i sum) {
  const __m256 product = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), multiplier);
  const __m256i centered = _mm256_sub_epi32(sum, k.sum_zero_point);
  const __m256 term = _mm256_mul_ps(_mm256_cvtepi32_ps(centered), k.sum_ratio_float);
  __m256 v = _mm256_add_ps(product, term);
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 rounded = round_half_even(v);
  // Distance to the nearest half-integer (exact), and the float sum's error bound.
  const __m256 margin =
      _mm256_sub_ps(_mm256_set1_ps(0.5f), _mm256_andnot_ps(sign, _mm256_sub_ps(v, rounded)));
  const __m256 bound =
      _mm256_mul_ps(_mm256_add_ps(_mm256_andnot_ps(sign, term), _mm256_andnot_ps(sign, v)),
                    _mm256_set1_ps(0x1p-22f));
  if (_mm256_movemask_ps(_mm256_cmp_ps(margin, bound, _CMP_GT_OQ)) != 0xFF) {
    return requant8_sum_double(k, product, centered);
  }
  return saturate_rounded<Finite>(k, v);
}

// 16 int32 in the range of Q to 16 bytes (the saturating packs change nothing).
template <OutKind Out>
QUENCH_AVX2_INLINE __m128i narrow16(__m256i v0, __m256i v1) {
  const __m256i words = _mm256_permute4x64_epi64(_mm256_packs_epi32(v0, v1), 0xD8);
  const __m128i low = _mm256_castsi256_si128(words), high = _mm256_extracti128_si256(words, 1);
  return Out == OutKind::kU8 ? _mm_packus_epi16(low, high) : _mm_packs_epi16(low, high);
}

// 16 bytes widened to two vectors of 8 int32.
template <SumKind Sum>
QUENCH_AVX2_INLINE void widen16(__m128i bytes, __m256i& v0, __m256i& v1) {
  const __m128i high = _mm_unpackhi_epi64(bytes, bytes);
  if constexpr (Sum == SumKind::kU8) {
    v0 = _mm256_cvtepu8_epi32(bytes);
    v1 = _mm256_cvtepu8_epi32(high);
  } else {
    v0 = _mm256_cvtepi8_epi32(bytes);
    v1 = _mm256_cvtepi8_epi32(high);
  }
}

// The first `count` (<= 16) bytes at p, the rest 0; and the first `count` bytes of v stored at p.
// Short counts go in pieces of 8, 4, 2 and 1 bytes (no library call, no reads or writes past
// them).
QUENCH_AVX2_INLINE __m128i load_bytes(const void* p, int count) {
  if (count == kTileCols) return _mm_loadu_si128(static_cast<const __m128i*>(p));
  const auto* in = static_cast<const uint8_t*>(p);
  uint64_t low = 0, high = 0;
  int at = 0;
  for (int piece : {8, 4, 2, 1}) {
    if ((count & piece) == 0) continue;
    uint64_t bits = 0;
    std::memcpy(&bits, in + at, static_cast<size_t>(piece));
    // Pieces come largest first, so none straddles the two halves.
    if (at < 8) {
      low |= bits << (8 * at);
    } else {
      high |= bits << (8 * (at - 8));
    }
    at += piece;
  }
  return _mm_set_epi64x(static_cast<int64_t>(high), static_cast<int64_t>(low));
}
QUENCH_AVX2_INLINE void store_bytes(void* p, __m128i v, int count) {
  if (count == kTileCols) return _mm_storeu_si128(static_cast<__m128i*>(p), v);
  auto* out = static_cast<uint8_t*>(p);
  if (count & 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), v);
    v = _mm_srli_si128(v, 8);
    out += 8;
  }
  if (count & 4) {
    const int32_t word = _mm_cvtsi128_si32(v);
    std::memcpy(out, &word, 4);
    v = _mm_srli_si128(v, 4);
    out += 4;
  }
  if (count & 2) {
    const auto half = static_cast<uint16_t>(_mm_extract_epi16(v, 0));
    std::memcpy(out, &half, 2);
    v = _mm_srli_si128(v, 2);
    out += 2;
  }
  if (count & 1) *out = static_cast<uint8_t>(_mm_cvtsi128_si32(v));
}
QUENCH_AVX2_INLINE void store_words(void* p, __m256i v0, __m256i v1, int count) {
  auto* out = static_cast<int32_t*>(p);
  if (count == kTileCols) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), v1);
    return;
  }
  _mm256_maskstore_epi32(out, lane_mask(0, count), v0);
  _mm256_maskstore_epi32(out + 8, lane_mask(8, count), v1);
}

// The 16 outputs of one tile row of an 8-bit kind, from its sums (bias not yet added) and, with
// a sum, the 16 residual bytes at the same outputs.
template <OutKind Out, SumKind Sum, bool Finite>
QUENCH_AVX2_INLINE __m128i requant_bytes(const RequantConstants& k, const RowParams& p,
                                         __m256i acc0, __m256i acc1, __m128i residual) {
  acc0 = _mm256_add_epi32(acc0, p.bias0);
  acc1 = _mm256_add_epi32(acc1, p.bias1);
  __m256i y0, y1;
  if constexpr (Sum == SumKind::kNone) {
    y0 = requant8<Finite>(k, acc0, p.multiplier0);
    y1 = requant8<Finite>(k, acc1, p.multiplier1);
  } else {
    __m256i s0, s1;
    widen16<Sum>(residual, s0, s1);
    y0 = requant8_sum<Finite>(k, acc0, p.multiplier0, s0);
    y1 = requant8_sum<Finite>(k, acc1, p.multiplier1, s1);
  }
  return narrow16<Out>(y0, y1);
}

// The 16 outputs of one tile row of a 32-bit kind, in place: the sums plus bias (kS32), or
// float(acc) · M (kF32, eq. (39) without y_scale: one rounding), plus a float bias (kF32Bias,
// eq. (155): a second rounding), as bits.
template <OutKind Out>
QUENCH_AVX2_INLINE void words(const RowParams& p, __m256i& acc0, __m256i& acc1) {
  acc0 = _mm256_add_epi32(acc0, p.bias0);
  acc1 = _mm256_add_epi32(acc1, p.bias1);
  if constexpr (Out == OutKind::kF32 || Out == OutKind::kF32Bias) {
    __m256 y0 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc0), p.multiplier0);
    __m256 y1 = _mm256_mul_ps(_mm256_cvtepi32_ps(acc1), p.multiplier1);
    if constexpr (Out == OutKind::kF32Bias) {
      y0 = _mm256_add_ps(y0, p.float_bias0);
      y1 = _mm256_add_ps(y1, p.float_bias1);
    }
    acc0 = _mm256_castps_si256(y0);
    acc1 = _mm256_castps_si256(y1);
  }
}

// Writes the outputs of 16 sums (`count` of them valid) of one tile row: `out` and `sum` point
// at the row's first column, contiguous.
template <OutKind Out, SumKind Sum, bool Finite>
QUENCH_AVX2_INLINE void finish_row(const RequantConstants& k, const RowParams& p, __m256i acc0,
                                   __m256i acc1, const void* sum, void* out, int count) {
  if constexpr (Out == OutKind::kS32 || Out == OutKind::kF32 || Out == OutKind::kF32Bias) {
    words<Out>(p, acc0, acc1);
    store_words(out, acc0, acc1, count);
  } else {
    const __m128i residual = Sum == SumKind::kNone ? _mm_setzero_si128() : load_bytes(sum, count);
    store_bytes(out, requant_bytes<Out, Sum, Finite>(k, p, acc0, acc1, residual), count);
  }
}

// Bytes per output element.
constexpr int64_t out_bytes(OutKind out) {
  return out == OutKind::kU8 || out == OutKind::kS8 ? 1 : 4;
}

// Calls fn.template operator()<Out, Sum, Finite>() for the epilogue's kinds (a sum only with
// 8-bit outputs; Finite: e.finite, for 8-bit outputs).
template <class Fn>
void visit_epilogue(const Epilogue& e, Fn&& fn) {
  auto bytes = [&]<OutKind Out>() {
    auto sum = [&]<SumKind Sum>() {
      if (e.finite) return fn.template operator()<Out, Sum, true>();
      return fn.template operator()<Out, Sum, false>();
    };
    if (e.sum_kind == SumKind::kU8) return sum.template operator()<SumKind::kU8>();
    if (e.sum_kind == SumKind::kS8) return sum.template operator()<SumKind::kS8>();
    return sum.template operator()<SumKind::kNone>();
  };
  switch (e.out) {
    case OutKind::kS32:
      return fn.template operator()<OutKind::kS32, SumKind::kNone, false>();
    case OutKind::kF32:
      return fn.template operator()<OutKind::kF32, SumKind::kNone, false>();
    case OutKind::kF32Bias:
      return fn.template operator()<OutKind::kF32Bias, SumKind::kNone, false>();
    case OutKind::kU8:
      return bytes.template operator()<OutKind::kU8>();
    case OutKind::kS8:
      return bytes.template operator()<OutKind::kS8>();
  }
}

}  // namespace quench::x86::avx2

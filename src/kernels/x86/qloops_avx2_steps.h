// The AVX2 steps of qloops_impl.h's QLinearAdd and QLinearMul loops, 8 values per step. Included
// by qloops_impl.h alone, inside its namespace, when it is compiled for AVX2 (not AVX-512): each
// step is the scalar loop's operations in the same order, so the results are the same bit for bit
// (docs/quantization.md, eqs. (35), (38), (56)).
#pragma once

namespace avx2_steps {

// 8 values of Q as int32.
template <class Q>
inline __m256i load8(const Q* p) {
  const __m128i bytes = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return std::is_same_v<Q, uint8_t> ? _mm256_cvtepu8_epi32(bytes) : _mm256_cvtepi8_epi32(bytes);
}

// saturate_rounded() of 8 integral floats (`v > lo ? v : lo`, so NaN goes to lo; then
// `v < hi ? v : hi`), narrowed to 8 bytes.
template <class Q>
inline __m128i saturate8(__m256 v) {
  v = _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(static_cast<float>(kQuantMin<Q>))),
                    _mm256_set1_ps(static_cast<float>(kQuantMax<Q>)));
  const __m256i words = _mm256_cvtps_epi32(v);
  const __m128i halves =
      _mm_packs_epi32(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
  return std::is_same_v<Q, uint8_t> ? _mm_packus_epi16(halves, halves)
                                    : _mm_packs_epi16(halves, halves);
}

inline __m256 round_half_even(__m256 v) {
  return _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// add_requantize_loop's chunks of 64: eq. (56) in float, a chunk with a sum within `tie_margin`
// of a half-integer redone by eq. (38) in double. The chunk's results stay in registers until no
// near tie is found, since `y` may alias `a` or `b`. The last < 64 values: eq. (38) itself.
template <class Q>
void add_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point, float a_ratio,
              int32_t b_zero_point, float b_ratio, int32_t y_zero_point, float tie_margin) {
  constexpr int64_t kChunk = 64, kVectors = kChunk / 8;
  const __m256i za = _mm256_set1_epi32(a_zero_point), zb = _mm256_set1_epi32(b_zero_point);
  const __m256 ra = _mm256_set1_ps(a_ratio), rb = _mm256_set1_ps(b_ratio);
  const __m256 z = _mm256_set1_ps(static_cast<float>(y_zero_point));
  const __m256 safe = _mm256_set1_ps(0.5f - tie_margin);
  const __m256 sign = _mm256_set1_ps(-0.f);
  int64_t start = 0;
  for (; start + kChunk <= count; start += kChunk) {
    __m128i out[kVectors];
    int near_ties = 0;
    for (int64_t v = 0; v < kVectors; ++v) {
      const int64_t i = start + v * 8;
      const __m256 sum =
          _mm256_add_ps(_mm256_mul_ps(ra, _mm256_cvtepi32_ps(_mm256_sub_epi32(load8(a + i), za))),
                        _mm256_mul_ps(rb, _mm256_cvtepi32_ps(_mm256_sub_epi32(load8(b + i), zb))));
      const __m256 rounded = round_half_even(sum);
      const __m256 distance = _mm256_andnot_ps(sign, _mm256_sub_ps(sum, rounded));
      near_ties |= _mm256_movemask_ps(_mm256_cmp_ps(distance, safe, _CMP_GT_OQ));
      out[v] = saturate8<Q>(_mm256_add_ps(rounded, z));
    }
    if (near_ties != 0) {
      add_requantize_exact(a + start, b + start, y + start, kChunk, a_zero_point, a_ratio,
                           b_zero_point, b_ratio, y_zero_point);
      continue;
    }
    for (int64_t v = 0; v < kVectors; ++v) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + start + v * 8), out[v]);
    }
  }
  add_requantize_exact(a + start, b + start, y + start, count - start, a_zero_point, a_ratio,
                       b_zero_point, b_ratio, y_zero_point);
}

// mul_requantize_loop, 8 products at a time; the last < 8 by the scalar steps.
template <class Q>
void mul_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
              int32_t b_zero_point, float multiplier, int32_t y_zero_point) {
  const __m256i za = _mm256_set1_epi32(a_zero_point), zb = _mm256_set1_epi32(b_zero_point);
  const __m256 m = _mm256_set1_ps(multiplier), z = _mm256_set1_ps(static_cast<float>(y_zero_point));
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    // |product| <= 255 · 255: exact in int32 and in float.
    const __m256i product =
        _mm256_mullo_epi32(_mm256_sub_epi32(load8(a + i), za), _mm256_sub_epi32(load8(b + i), zb));
    const __m256 rounded = round_half_even(_mm256_mul_ps(_mm256_cvtepi32_ps(product), m));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), saturate8<Q>(_mm256_add_ps(rounded, z)));
  }
  const float zf = static_cast<float>(y_zero_point);
  for (; i < count; ++i) {
    const int32_t product = (a[i] - a_zero_point) * (b[i] - b_zero_point);
    y[i] = saturate_rounded<Q>(std::nearbyint(static_cast<float>(product) * multiplier) + zf);
  }
}

}  // namespace avx2_steps

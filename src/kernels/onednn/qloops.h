// The inner loops of the int8 fast kernels, written for the compiler to vectorize (-march=native:
// AVX-512). Each computes exactly what the helper of core/requantize.h it names computes, so the
// fast kernels match the reference kernels bit for bit:
//
// - rounding is std::nearbyint (docs/quantization.md eq. (59)), which rounds half to even in the
//   default rounding mode (the kernels are only made when that is the mode; quench never changes
//   it) and, unlike round_half_even(), vectorizes (vrndscale);
// - saturation compares in float or double, sending NaN to the type's lowest value as saturate()
//   does (`v > lo ? v : lo` is false for NaN);
// - a rounded value r and a zero point z (|z| <= 255) are added in float: exact while |r| < 2^24,
//   and beyond that the sum saturates either way.
#pragma once

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdint>

#include "core/requantize.h"

namespace quench::onednn {

// Whether the loops below round half to even (the default mode, which they assume).
inline bool rounds_half_even() { return std::fegetround() == FE_TONEAREST; }

template <class Q, class F>
inline Q saturate_rounded(F value) {
  constexpr F kLow = static_cast<F>(kQuantMin<Q>), kHigh = static_cast<F>(kQuantMax<Q>);
  value = value > kLow ? value : kLow;
  value = value < kHigh ? value : kHigh;
  return static_cast<Q>(static_cast<int32_t>(value));
}

// quantize() (eq. (31)) of `count` values.
template <class Q>
void quantize_loop(const float* x, Q* y, int64_t count, float scale, int32_t zero_point) {
  const float z = static_cast<float>(zero_point);
  for (int64_t i = 0; i < count; ++i) y[i] = saturate_rounded<Q>(std::nearbyint(x[i] / scale) + z);
}

// The range [min(min x, 0), max(max x, 0)] of eq. (37) as the reference's running std::min /
// std::max give it: a NaN never compares less or greater, so it is skipped, and since the
// accumulators start at +0 and only a strictly smaller (larger) value replaces them, −0 never
// does; the result is thus independent of the order of comparisons, and kLanes independent
// accumulators vectorize (`x < lo ? x : lo` is vminps exactly).
inline void range_with_zero(const float* x, int64_t count, float& min, float& max) {
  constexpr int64_t kLanes = 16;
  float lo[kLanes] = {}, hi[kLanes] = {};
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    for (int64_t lane = 0; lane < kLanes; ++lane) {
      const float v = x[i + lane];
      lo[lane] = v < lo[lane] ? v : lo[lane];
      hi[lane] = hi[lane] < v ? v : hi[lane];
    }
  }
  for (; i < count; ++i) {
    lo[0] = x[i] < lo[0] ? x[i] : lo[0];
    hi[0] = hi[0] < x[i] ? x[i] : hi[0];
  }
  min = 0.f;
  max = 0.f;
  for (int64_t lane = 0; lane < kLanes; ++lane) {
    min = lo[lane] < min ? lo[lane] : min;
    max = max < hi[lane] ? hi[lane] : max;
  }
}

// dequantize() (eq. (32)) of `count` 8-bit values.
template <class Q>
void dequantize_loop(const Q* x, float* y, int64_t count, float scale, int32_t zero_point) {
  for (int64_t i = 0; i < count; ++i) y[i] = static_cast<float>(x[i] - zero_point) * scale;
}

// add_requantize() (eq. (38)) of `count` same-position pairs: both products are exact in double,
// so the sum rounds once whether or not the compiler fuses it into an FMA.
template <class Q>
void add_requantize_exact(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                          float a_ratio, int32_t b_zero_point, float b_ratio,
                          int32_t y_zero_point) {
  const double ra = a_ratio, rb = b_ratio, z = y_zero_point;
  for (int64_t i = 0; i < count; ++i) {
    const double sum = ra * (a[i] - a_zero_point) + rb * (b[i] - b_zero_point);
    y[i] = saturate_rounded<Q>(std::nearbyint(sum) + z);
  }
}

// Eq. (56): the sum of eq. (38) in float, 16 lanes at a time instead of 8. Returns how many sums
// lie within `tie_margin` of a half-integer, where the float sum may round otherwise than the
// exact one; elsewhere the result equals add_requantize_exact's.
template <class Q>
int32_t add_requantize_float(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                             float a_ratio, int32_t b_zero_point, float b_ratio,
                             int32_t y_zero_point, float tie_margin) {
  const float z = static_cast<float>(y_zero_point);
  const float safe = 0.5f - tie_margin;
  int32_t near_ties = 0;
  for (int64_t i = 0; i < count; ++i) {
    const float sum = a_ratio * static_cast<float>(a[i] - a_zero_point) +
                      b_ratio * static_cast<float>(b[i] - b_zero_point);
    const float rounded = std::nearbyint(sum);
    near_ties += std::fabs(sum - rounded) > safe;  // exact: |sum| < 2^22 (eq. (56))
    y[i] = saturate_rounded<Q>(rounded + z);
  }
  return near_ties;
}

// Eq. (56)'s error bound ε = 2^-21 · (r_a + r_b) · 255, or a negative value when the float path
// does not apply (|sum| could reach 2^18 and ε 1/8).
inline float add_tie_margin(float a_ratio, float b_ratio) {
  const double bound = (std::fabs(static_cast<double>(a_ratio)) + std::fabs(b_ratio)) * 255;
  if (!(bound < 262144.0)) return -1.f;
  return static_cast<float>(std::ldexp(bound, -21));
}

// add_requantize() of `count` pairs: eq. (56) chunk by chunk, a chunk with a near tie recomputed
// exactly. `y` may be `a` or `b` (each output depends on its own position only); a chunk's float
// results are staged on the stack so that the recomputation reads the inputs intact.
template <class Q>
void add_requantize_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                         float a_ratio, int32_t b_zero_point, float b_ratio, int32_t y_zero_point) {
  const float tie_margin = add_tie_margin(a_ratio, b_ratio);
  if (tie_margin < 0.f) {
    add_requantize_exact(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                         y_zero_point);
    return;
  }
  constexpr int64_t kChunk = 64;
  Q staged[kChunk];
  for (int64_t start = 0; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    const int32_t near_ties =
        add_requantize_float(a + start, b + start, staged, n, a_zero_point, a_ratio, b_zero_point,
                             b_ratio, y_zero_point, tie_margin);
    if (near_ties == 0) {
      std::copy(staged, staged + n, y + start);
    } else {
      add_requantize_exact(a + start, b + start, y + start, n, a_zero_point, a_ratio, b_zero_point,
                           b_ratio, y_zero_point);
    }
  }
}

// requantize() (eq. (35)) of `count` products (a − z_a)(b − z_b): |product| <= 255 · 255, exact
// in int32 and in float.
template <class Q>
void mul_requantize_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                         int32_t b_zero_point, float multiplier, int32_t y_zero_point) {
  const float z = static_cast<float>(y_zero_point);
  for (int64_t i = 0; i < count; ++i) {
    const int32_t product = (a[i] - a_zero_point) * (b[i] - b_zero_point);
    y[i] = saturate_rounded<Q>(std::nearbyint(static_cast<float>(product) * multiplier) + z);
  }
}

// requantize() of `count` int32 accumulators.
template <class Q>
void requantize_loop(const int32_t* acc, Q* y, int64_t count, float multiplier,
                     int32_t zero_point) {
  const float z = static_cast<float>(zero_point);
  for (int64_t i = 0; i < count; ++i) {
    y[i] = saturate_rounded<Q>(std::nearbyint(static_cast<float>(acc[i]) * multiplier) + z);
  }
}

}  // namespace quench::onednn

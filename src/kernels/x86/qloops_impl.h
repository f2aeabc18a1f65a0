// The inner loops of the int8 fast kernels (quench::x86::qloops.h), compiled once per instruction
// set: qloops_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file, with the
// compiler flags of that ISA (cmake/QuenchLayers.cmake). Everything here lives in that namespace,
// so no code compiled for one ISA is shared with another (tests/check_isa_objects.sh checks the
// object files). Each loop computes exactly what the helper of core/requantize.h it names
// computes, so the fast kernels match the reference kernels bit for bit:
//
// - rounding is std::nearbyint (docs/quantization.md eq. (59)), which rounds half to even in the
//   default rounding mode (the kernels are only made when that is the mode; quench never changes
//   it) and, unlike round_half_even(), vectorizes (vrndscale);
// - saturation compares in float or double, sending NaN to the type's lowest value as saturate()
//   does (`v > lo ? v : lo` is false for NaN);
// - a rounded value r and a zero point z (|z| <= 255) are added in float: exact while |r| < 2^24,
//   and beyond that the sum saturates either way.
//
// Compiled for AVX-512 (F, BW), each loop runs 16 values at a time with intrinsics (the compiler's
// own vectorization of the 8-bit conversions was measured 2.5-3x slower) and finishes the last
// < 16 values with the scalar code; the vector steps are the scalar ones in the same order
// (vrndscaleps with round-to-nearest-even is nearbyint in the default mode; vmaxps(v, lo) returns
// lo for NaN as `v > lo ? v : lo` does). Compiled for AVX2 or the baseline, the scalar code runs,
// vectorized by the compiler where it can (range_with_zero has its own AVX2 intrinsics).
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including qloops_impl.h"
#endif

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/requantize.h"
#include "kernels/x86/qloops_table.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__AVX512F__) && defined(__AVX512BW__)
#include <immintrin.h>
#define QUENCH_QLOOPS_AVX512 1
// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#pragma GCC diagnostic push
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#elif defined(__AVX2__)
#include <immintrin.h>
#define QUENCH_QLOOPS_AVX2 1
#endif

namespace quench::x86::QUENCH_X86_ISA {

#ifdef QUENCH_QLOOPS_AVX512
namespace simd {

constexpr int64_t kLanes = 16;

// 16 8-bit values widened to int32.
template <class Q>
inline __m512i load_widened(const Q* p) {
  const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  if constexpr (std::is_same_v<Q, uint8_t>) {
    return _mm512_cvtepu8_epi32(bytes);
  } else {
    return _mm512_cvtepi8_epi32(bytes);
  }
}

template <class Q>
inline __m512 load_float(const Q* p, __m512i zero_point) {
  return _mm512_cvtepi32_ps(_mm512_sub_epi32(load_widened(p), zero_point));
}

inline __m512 round_half_even(__m512 v) {
  return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

// saturate_rounded() of 16 integral floats: clamp (NaN to the lowest value), then narrow.
template <class Q>
inline __m128i saturate_narrow(__m512 v) {
  const __m512 low = _mm512_set1_ps(static_cast<float>(kQuantMin<Q>));
  const __m512 high = _mm512_set1_ps(static_cast<float>(kQuantMax<Q>));
  v = _mm512_min_ps(_mm512_max_ps(v, low), high);
  return _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v));
}

template <class Q>
inline void store_saturated(Q* p, __m512 v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), saturate_narrow<Q>(v));
}

}  // namespace simd
#endif

// saturate_rounded() of qloops.h, this ISA's own copy.
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
  int64_t i = 0;
#ifdef QUENCH_QLOOPS_AVX512
  const __m512 vscale = _mm512_set1_ps(scale), vz = _mm512_set1_ps(z);
  for (; i + simd::kLanes <= count; i += simd::kLanes) {
    const __m512 q = simd::round_half_even(_mm512_div_ps(_mm512_loadu_ps(x + i), vscale));
    simd::store_saturated(y + i, _mm512_add_ps(q, vz));
  }
#endif
  for (; i < count; ++i) y[i] = saturate_rounded<Q>(std::nearbyint(x[i] / scale) + z);
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
#ifdef QUENCH_QLOOPS_AVX512
  // vminps(v, lo) is `v < lo ? v : lo` exactly (the second operand on NaN and on equality, so
  // +0 stays); vmaxps(v, hi) is `hi < v ? v : hi`. Four accumulators hide the latency.
  __m512 vlo[4], vhi[4];
  for (int k = 0; k < 4; ++k) vlo[k] = vhi[k] = _mm512_setzero_ps();
  for (; i + 4 * kLanes <= count; i += 4 * kLanes) {
    for (int k = 0; k < 4; ++k) {
      const __m512 v = _mm512_loadu_ps(x + i + k * kLanes);
      vlo[k] = _mm512_min_ps(v, vlo[k]);
      vhi[k] = _mm512_max_ps(v, vhi[k]);
    }
  }
  for (int k = 1; k < 4; ++k) {
    vlo[0] = _mm512_min_ps(vlo[k], vlo[0]);
    vhi[0] = _mm512_max_ps(vhi[k], vhi[0]);
  }
  _mm512_storeu_ps(lo, vlo[0]);
  _mm512_storeu_ps(hi, vhi[0]);
#elif defined(__AVX2__)
  // The same on 8 lanes (lanes 8-15 of lo and hi stay +0): GCC compiles the scalar loop below to
  // compares and branches for AVX2 (measured: the dynamic GRU's per-step range was 19% of its
  // run at batch 32).
  constexpr int64_t kAvx2Lanes = 8;
  __m256 vlo[4], vhi[4];
  for (int k = 0; k < 4; ++k) vlo[k] = vhi[k] = _mm256_setzero_ps();
  for (; i + 4 * kAvx2Lanes <= count; i += 4 * kAvx2Lanes) {
    for (int k = 0; k < 4; ++k) {
      const __m256 v = _mm256_loadu_ps(x + i + k * kAvx2Lanes);
      vlo[k] = _mm256_min_ps(v, vlo[k]);
      vhi[k] = _mm256_max_ps(v, vhi[k]);
    }
  }
  for (int k = 1; k < 4; ++k) {
    vlo[0] = _mm256_min_ps(vlo[k], vlo[0]);
    vhi[0] = _mm256_max_ps(vhi[k], vhi[0]);
  }
  _mm256_storeu_ps(lo, vlo[0]);
  _mm256_storeu_ps(hi, vhi[0]);
#endif
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
  int64_t i = 0;
#ifdef QUENCH_QLOOPS_AVX512
  const __m512i vz = _mm512_set1_epi32(zero_point);
  const __m512 vscale = _mm512_set1_ps(scale);
  for (; i + simd::kLanes <= count; i += simd::kLanes) {
    _mm512_storeu_ps(y + i, _mm512_mul_ps(simd::load_float(x + i, vz), vscale));
  }
#endif
  for (; i < count; ++i) y[i] = static_cast<float>(x[i] - zero_point) * scale;
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

// Eq. (56): the sum of eq. (38) in float. Returns how many sums lie within `tie_margin` of a
// half-integer, where the float sum may round otherwise than the exact one; elsewhere the result
// equals add_requantize_exact's.
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

#ifdef QUENCH_QLOOPS_AVX2
#include "kernels/x86/qloops_avx2_steps.h"
#endif

// add_requantize() of `count` pairs: eq. (56) chunk by chunk, a chunk with a near tie recomputed
// exactly. `y` may be `a` or `b` (each output depends on its own position only), so a chunk's
// float results are held back (in registers, or staged on the stack) until the chunk is known to
// need no recomputation, which reads the inputs intact.
template <class Q>
void add_requantize_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                         float a_ratio, int32_t b_zero_point, float b_ratio, int32_t y_zero_point) {
  const float tie_margin = add_tie_margin(a_ratio, b_ratio);
  if (tie_margin < 0.f) {
    add_requantize_exact(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                         y_zero_point);
    return;
  }
#ifdef QUENCH_QLOOPS_AVX2
  return avx2_steps::add_loop(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                              y_zero_point, tie_margin);
#endif
  constexpr int64_t kChunk = 64;
  int64_t start = 0;
#ifdef QUENCH_QLOOPS_AVX512
  {
    constexpr int kVectors = kChunk / simd::kLanes;
    const __m512i vza = _mm512_set1_epi32(a_zero_point), vzb = _mm512_set1_epi32(b_zero_point);
    const __m512 vra = _mm512_set1_ps(a_ratio), vrb = _mm512_set1_ps(b_ratio);
    const __m512 vz = _mm512_set1_ps(static_cast<float>(y_zero_point));
    const __m512 safe = _mm512_set1_ps(0.5f - tie_margin);
    for (; start + kChunk <= count; start += kChunk) {
      __m128i out[kVectors];
      __mmask16 near_ties = 0;
      for (int v = 0; v < kVectors; ++v) {
        const int64_t i = start + v * simd::kLanes;
        const __m512 sum = _mm512_add_ps(_mm512_mul_ps(vra, simd::load_float(a + i, vza)),
                                         _mm512_mul_ps(vrb, simd::load_float(b + i, vzb)));
        const __m512 rounded = simd::round_half_even(sum);
        const __m512 distance = _mm512_abs_ps(_mm512_sub_ps(sum, rounded));
        near_ties |= _mm512_cmp_ps_mask(distance, safe, _CMP_GT_OQ);
        out[v] = simd::saturate_narrow<Q>(_mm512_add_ps(rounded, vz));
      }
      if (near_ties != 0) {
        add_requantize_exact(a + start, b + start, y + start, kChunk, a_zero_point, a_ratio,
                             b_zero_point, b_ratio, y_zero_point);
        continue;
      }
      for (int v = 0; v < kVectors; ++v) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + start + v * simd::kLanes), out[v]);
      }
    }
  }
#endif
  Q staged[kChunk];
  for (; start < count; start += kChunk) {
    const int64_t n = std::min(kChunk, count - start);
    const int32_t near_ties =
        add_requantize_float(a + start, b + start, staged, n, a_zero_point, a_ratio, b_zero_point,
                             b_ratio, y_zero_point, tie_margin);
    if (near_ties != 0) {
      add_requantize_exact(a + start, b + start, y + start, n, a_zero_point, a_ratio, b_zero_point,
                           b_ratio, y_zero_point);
    } else {
      std::copy(staged, staged + n, y + start);
    }
  }
}

// requantize() (eq. (35)) of `count` products (a − z_a)(b − z_b): |product| <= 255 · 255, exact
// in int32 and in float.
template <class Q>
void mul_requantize_loop(const Q* a, const Q* b, Q* y, int64_t count, int32_t a_zero_point,
                         int32_t b_zero_point, float multiplier, int32_t y_zero_point) {
#ifdef QUENCH_QLOOPS_AVX2
  return avx2_steps::mul_loop(a, b, y, count, a_zero_point, b_zero_point, multiplier, y_zero_point);
#endif
  const float z = static_cast<float>(y_zero_point);
  int64_t i = 0;
#ifdef QUENCH_QLOOPS_AVX512
  const __m512i vza = _mm512_set1_epi32(a_zero_point), vzb = _mm512_set1_epi32(b_zero_point);
  const __m512 vm = _mm512_set1_ps(multiplier), vz = _mm512_set1_ps(z);
  for (; i + simd::kLanes <= count; i += simd::kLanes) {
    const __m512i product = _mm512_mullo_epi32(_mm512_sub_epi32(simd::load_widened(a + i), vza),
                                               _mm512_sub_epi32(simd::load_widened(b + i), vzb));
    const __m512 rounded = simd::round_half_even(_mm512_mul_ps(_mm512_cvtepi32_ps(product), vm));
    simd::store_saturated(y + i, _mm512_add_ps(rounded, vz));
  }
#endif
  for (; i < count; ++i) {
    const int32_t product = (a[i] - a_zero_point) * (b[i] - b_zero_point);
    y[i] = saturate_rounded<Q>(std::nearbyint(static_cast<float>(product) * multiplier) + z);
  }
}

// requantize() of `count` int32 accumulators.
template <class Q>
void requantize_loop(const int32_t* acc, Q* y, int64_t count, float multiplier,
                     int32_t zero_point) {
  const float z = static_cast<float>(zero_point);
  int64_t i = 0;
#ifdef QUENCH_QLOOPS_AVX512
  const __m512 vm = _mm512_set1_ps(multiplier), vz = _mm512_set1_ps(z);
  for (; i + simd::kLanes <= count; i += simd::kLanes) {
    const __m512 value = _mm512_cvtepi32_ps(_mm512_loadu_si512(acc + i));
    simd::store_saturated(y + i,
                          _mm512_add_ps(simd::round_half_even(_mm512_mul_ps(value, vm)), vz));
  }
#endif
  for (; i < count; ++i) {
    y[i] = saturate_rounded<Q>(std::nearbyint(static_cast<float>(acc[i]) * multiplier) + z);
  }
}

// The loops of this ISA, for qloops.cc to dispatch to.
// Fake quantization (qloops.h): the scalar steps, vectorized by the compiler (nearbyint is
// vroundps / vrndscaleps, the clamp vmaxps / vminps, the selects blends).
inline void fake_quantize(const float* x, float* y, int64_t count, float scale, float z, float qmin,
                          float qmax) {
  for (int64_t i = 0; i < count; ++i) {
    float q = std::nearbyint(x[i] / scale) + z;
    q = q > qmin ? q : qmin;
    q = q < qmax ? q : qmax;
    y[i] = (q - z) * scale;
  }
}

inline void fake_quantize_grad(const float* x, const float* dy, float* dx, int64_t count,
                               float scale, float z, float qmin, float qmax, double& dscale,
                               double& dzero_point) {
  // kLanes independent float sums (the compiler keeps them in one vector register), flushed to
  // double every kFlush values so that no float sum runs long.
  constexpr int64_t kLanes = 16, kFlush = 4096;
  int64_t i = 0;
  while (i < count) {
    const int64_t end = std::min(count, i + kFlush);
    float ds[kLanes] = {}, dz[kLanes] = {};
    for (; i + kLanes <= end; i += kLanes) {
      for (int64_t j = 0; j < kLanes; ++j) {
        const float v = x[i + j] / scale;
        const float r = std::nearbyint(v);
        const float t = r + z;
        const bool inside = t >= qmin && t <= qmax;
        const float clipped = (t < qmin ? qmin : qmax) - z;
        const float g = dy[i + j];
        dx[i + j] = inside ? g : 0.f;
        ds[j] += g * (inside ? r - v : clipped);
        dz[j] += inside ? 0.f : -g * scale;
      }
    }
    for (; i < end; ++i) {
      const float v = x[i] / scale;
      const float r = std::nearbyint(v);
      const float t = r + z;
      const bool inside = t >= qmin && t <= qmax;
      const float g = dy[i];
      dx[i] = inside ? g : 0.f;
      ds[0] += g * (inside ? r - v : (t < qmin ? qmin : qmax) - z);
      dz[0] += inside ? 0.f : -g * scale;
    }
    for (int64_t j = 0; j < kLanes; ++j) {
      dscale += ds[j];
      dzero_point += dz[j];
    }
  }
}

inline QLoops table() {
  QLoops t;
  t.quantize_u8 = quantize_loop<uint8_t>;
  t.quantize_s8 = quantize_loop<int8_t>;
  t.dequantize_u8 = dequantize_loop<uint8_t>;
  t.dequantize_s8 = dequantize_loop<int8_t>;
  t.range_with_zero = range_with_zero;
  t.add_requantize_u8 = add_requantize_loop<uint8_t>;
  t.add_requantize_s8 = add_requantize_loop<int8_t>;
  t.mul_requantize_u8 = mul_requantize_loop<uint8_t>;
  t.mul_requantize_s8 = mul_requantize_loop<int8_t>;
  t.requantize_u8 = requantize_loop<uint8_t>;
  t.requantize_s8 = requantize_loop<int8_t>;
  t.fake_quantize = fake_quantize;
  t.fake_quantize_grad = fake_quantize_grad;
  return t;
}

}  // namespace quench::x86::QUENCH_X86_ISA

#ifdef QUENCH_QLOOPS_AVX512
#pragma GCC diagnostic pop
#endif

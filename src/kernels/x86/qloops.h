// The inner loops of the int8 fast kernels that oneDNN has no primitive for: quantize,
// dequantize, the range of DynamicQuantizeLinear, QLinearAdd / QLinearMul requantization, and the
// requantization of int32 sums. Each computes exactly what the helper of core/requantize.h it
// names computes, so the kernels that use them match the reference bit for bit. Chosen once per
// process for the CPU (qloops_impl.h has the loops, compiled for AVX-512, AVX2 and the baseline).
#pragma once

#include <cfenv>
#include <cstdint>

#include "core/requantize.h"

namespace quench::x86 {

// Whether the loops round half to even (the default mode, which they assume).
inline bool rounds_half_even() { return std::fegetround() == FE_TONEAREST; }

// Saturates an integral float or double to Q, NaN to Q's lowest value, as saturate() does.
template <class Q, class F>
inline Q saturate_rounded(F value) {
  constexpr F kLow = static_cast<F>(kQuantMin<Q>), kHigh = static_cast<F>(kQuantMax<Q>);
  value = value > kLow ? value : kLow;
  value = value < kHigh ? value : kHigh;
  return static_cast<Q>(static_cast<int32_t>(value));
}

// quantize() (eq. (31)) of `count` values.
void quantize_loop(const float* x, uint8_t* y, int64_t count, float scale, int32_t zero_point);
void quantize_loop(const float* x, int8_t* y, int64_t count, float scale, int32_t zero_point);

// The range [min(min x, 0), max(max x, 0)] of eq. (37), as the reference's running std::min /
// std::max give it (NaN skipped, −0 never replacing +0).
void range_with_zero(const float* x, int64_t count, float& min, float& max);

// dequantize() (eq. (32)) of `count` 8-bit values.
void dequantize_loop(const uint8_t* x, float* y, int64_t count, float scale, int32_t zero_point);
void dequantize_loop(const int8_t* x, float* y, int64_t count, float scale, int32_t zero_point);

// add_requantize() (eq. (38)) of `count` same-position pairs; `y` may be `a` or `b`.
void add_requantize_loop(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point);
void add_requantize_loop(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, float a_ratio, int32_t b_zero_point, float b_ratio,
                         int32_t y_zero_point);

// requantize() (eq. (35)) of `count` products (a − z_a)(b − z_b).
void mul_requantize_loop(const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point);
void mul_requantize_loop(const int8_t* a, const int8_t* b, int8_t* y, int64_t count,
                         int32_t a_zero_point, int32_t b_zero_point, float multiplier,
                         int32_t y_zero_point);

// requantize() of `count` int32 accumulators.
void requantize_loop(const int32_t* acc, uint8_t* y, int64_t count, float multiplier,
                     int32_t zero_point);
void requantize_loop(const int32_t* acc, int8_t* y, int64_t count, float multiplier,
                     int32_t zero_point);

// Which instruction set the loops run on here ("avx512", "avx2", "baseline").
const char* qloops_isa();

// Fake quantization for quantization-aware training (docs/quantization.md (95)-(96)) of `count`
// values sharing one scale and integer zero point z in [qmin, qmax]: y = (clamp(nearbyint(x / s)
// + z, qmin, qmax) − z) · s, bit for bit what train/qat's reference computes (NaN aside).
void fake_quantize_loop(const float* x, float* y, int64_t count, float scale, float zero_point,
                        float qmin, float qmax);

// Its backward ((98), (99) and (101) before the LSQ gradient scale): dx = dy inside the range and
// 0 where clipped; adds Σ dy·(round(x/s) − x/s) (inside) + Σ dy·(q_clip − z) (clipped) to
// `dscale` and Σ −dy·s (clipped) to `dzero_point`. The sums run in float lanes flushed to double
// every few thousand values, so they differ from the reference's double sums by rounding only.
void fake_quantize_grad_loop(const float* x, const float* dy, float* dx, int64_t count, float scale,
                             float zero_point, float qmin, float qmax, double& dscale,
                             double& dzero_point);

}  // namespace quench::x86

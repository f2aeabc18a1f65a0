// Every rounding and saturation of quench's integer arithmetic, in one place. The equations are
// those of docs/quantization.md, "Integer arithmetic and requantization", eqs. (30)-(38); the
// reference kernels use these helpers and nothing else, and fast kernels must agree with them
// exactly or within the ±1 stated there.
//
// Ranges: quantized values are u8 [0, 255], s8 [-128, 127] or s32; zero points are held as int32
// and must lie in the quantized type's range (checked where they are read); scales are positive
// finite floats (checked likewise). Float arithmetic is IEEE binary32 throughout, evaluated in
// the order written (the build uses neither -ffast-math nor FMA contraction: -ffp-contract=off).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

namespace quench {

// The quantized types and their saturation bounds.
template <class Q>
concept QuantType =
    std::is_same_v<Q, uint8_t> || std::is_same_v<Q, int8_t> || std::is_same_v<Q, int32_t>;

template <QuantType Q>
inline constexpr int64_t kQuantMin = std::numeric_limits<Q>::lowest();
template <QuantType Q>
inline constexpr int64_t kQuantMax = std::numeric_limits<Q>::max();

// Eq. (30): x rounded to the nearest integer, ties to even, in x's own float type. Independent of
// the floating-point environment's rounding mode: it uses floor() and one subtraction, which is
// exact (for |x| >= 1 by Sterbenz's lemma, since floor(|x|) is within a factor 2 of |x|; below 1
// floor is 0). |x| >= 2^23 (2^52 for double) is already an integer; infinities and NaN pass
// through unchanged.
template <class F>
requires std::is_floating_point_v<F> F round_half_even(F x) {
  constexpr F kAllIntegers = F(1) / std::numeric_limits<F>::epsilon();  // 2^23 (float), 2^52
  const F magnitude = std::fabs(x);
  if (!(magnitude < kAllIntegers)) return x;
  const F down = std::floor(magnitude);
  const F fraction = magnitude - down;
  const bool odd = (static_cast<int64_t>(down) & 1) != 0;  // exact: down < 2^52
  const bool up = fraction > F(0.5) || (fraction == F(0.5) && odd);
  return std::copysign(up ? down + F(1) : down, x);
}

// Saturates an integer-valued double to Q. NaN saturates to Q's lowest value, as ONNX Runtime's
// QuantizeLinear does (its max(x, lowest) returns the bound for a NaN).
template <QuantType Q>
Q saturate(double value) {
  if (!(value > static_cast<double>(kQuantMin<Q>))) return static_cast<Q>(kQuantMin<Q>);
  if (value > static_cast<double>(kQuantMax<Q>)) return static_cast<Q>(kQuantMax<Q>);
  return static_cast<Q>(value);
}

// Eq. (31), ONNX QuantizeLinear: q = saturate(round_half_even(x / s) + z). The division is a
// float division, not a multiplication by 1/s: the two differ in the last place for some x, and
// the ONNX conformance data (and ONNX Runtime) divide. The rounded value and z are added in
// double, exactly (both are integers below 2^32), so saturation sees the true sum.
template <QuantType Q>
Q quantize(float x, float scale, int32_t zero_point) {
  const float scaled = x / scale;
  return saturate<Q>(static_cast<double>(round_half_even(scaled)) + zero_point);
}

// Eq. (32), ONNX DequantizeLinear: x = (q − z) · s in float. q − z is exact in int64 and converts
// to float exactly for 8-bit q (|q − z| <= 255); for s32 q it rounds to nearest once (|q − z|
// above 2^24), as ONNX Runtime's float conversion does.
inline float dequantize(int32_t q, float scale, int32_t zero_point) {
  return static_cast<float>(static_cast<int64_t>(q) - zero_point) * scale;
}

// Eq. (36): the requantization multiplier M = (s_a · s_b) / s_y of a product of two quantized
// operands written with scale s_y, in float and in this order (ONNX Runtime's QLinearConv,
// QLinearMatMul and QLinearMul compute it so; QGemm folds alpha in first: ((alpha·s_a)·s_b)/s_y).
inline float requant_multiplier(float scale_a, float scale_b, float scale_y) {
  return scale_a * scale_b / scale_y;
}

// Eq. (35): y = saturate(round_half_even(float(acc) · M) + z_y) for an int32 accumulator (bias
// included). float(acc) is exact for |acc| <= 2^24 and rounds to nearest beyond; the product
// rounds once. This is ONNX Runtime's MlasRequantizeOutput step for step (convert, multiply,
// clamp to [q_min − z, q_max − z], round to nearest even, add z — clamping an integer bound
// before or after rounding gives the same result). oneDNN's int8 output scaling computes the
// same float product, possibly with M formed in another order or as two multiplications (src·wei
// scale, then 1/dst scale), so a fast kernel agrees within ±1, equal except near ties.
template <QuantType Q>
Q requantize(int32_t acc, float multiplier, int32_t zero_point) {
  const float scaled = static_cast<float>(acc) * multiplier;
  return saturate<Q>(static_cast<double>(round_half_even(scaled)) + zero_point);
}

// Eq. (38), QLinearAdd: y = saturate(round_half_even(r_a·(a − z_a) + r_b·(b − z_b)) + z_y) with
// the float ratios r_a = s_a / s_y, r_b = s_b / s_y. The sum is formed in double, where both
// products are exact (24-bit ratio times a 9-bit integer), so it is rounded once and FMA
// contraction cannot change it. ONNX Runtime sums in float (x86: z_y − (r_a·z_a + r_b·z_b) +
// r_a·a + r_b·b); the two agree within ±1.
template <QuantType Q>
Q add_requantize(int32_t a, float ratio_a, int32_t b, float ratio_b, int32_t zero_point) {
  const double sum = static_cast<double>(ratio_a) * a + static_cast<double>(ratio_b) * b;
  return saturate<Q>(round_half_even(sum) + zero_point);
}

// Eq. (37), DynamicQuantizeLinear (u8): the range is widened to include 0, s = (max − min) / 255
// (1 when the range is empty, as in ONNX Runtime, where ONNX's function body would divide 0 by
// 0), z = round_half_even(clamp(0 − min / s, 0, 255)).
struct DynamicQuantParams {
  float scale;
  uint8_t zero_point;
};
inline DynamicQuantParams dynamic_quant_params(float min, float max) {
  min = std::min(min, 0.f);
  max = std::max(max, 0.f);
  const float scale = max == min ? 1.f : (max - min) / 255.f;
  // With min = −inf the scale is inf and −min / s is NaN: the zero point is then 255, the limit
  // of −min / s as min falls, and what ONNX Runtime's max(0, min(255, v)) gives.
  const float shifted = 0.f - min / scale;
  const float zero_point =
      std::isnan(shifted) ? 255.f : round_half_even(std::clamp(shifted, 0.f, 255.f));
  return {scale, static_cast<uint8_t>(zero_point)};
}

// Eq. (34): integer accumulators are int64 in the reference kernels, so they cannot overflow:
// each term (a − z_a)(b − z_b) has |term| <= 255 · 255 < 2^16, and a reduction has fewer than
// 2^36 terms (kMaxTensorBytes bounds every tensor), so |sum| < 2^52. ONNX lets the int32 result
// wrap; narrowing the exact sum modulo 2^32 gives the same bits as accumulating in int32 with
// wraparound, in any order (C++20 defines the conversion as reduction modulo 2^32).
inline int32_t wrap_to_int32(int64_t sum) { return static_cast<int32_t>(sum); }

}  // namespace quench

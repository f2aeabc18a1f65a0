// The epilogue of quench's x86 int8 products: what becomes of an exact int32 sum (eq. (34)), as a
// value type that the kernels fill once per run and the AVX2 code applies tile row by tile row
// (int8_tile_avx2.h). Each output kind reproduces a helper of core/requantize.h or
// ops/quantized/qfused.h step for step, so the results are the reference kernels' bit for bit.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace quench::x86 {

enum class OutKind : uint8_t {
  kU8,       // eqs. (35), (45), (46): requantized to uint8
  kS8,       // the same, to int8
  kS32,      // the sum itself (ConvInteger, MatMulInteger)
  kF32,      // float(acc) · M (QGemm without y_scale, eq. (39))
  kF32Bias,  // float(acc) · M + bias[j] (MatMulIntegerToFloat, eq. (155))
};

// The residual sum of eq. (45), when there is one.
enum class SumKind : uint8_t { kNone, kU8, kS8 };

// Parameters of output (row r, column j) of a product; a parameter "per row" has column stride 0,
// one "per column" row stride 0, so that multipliers[r * row_stride + j * col_stride] covers per
// tensor (both 0), per column of B or output channel of a convolution (columns) and QGemm's C
// (either). Column strides are 0 or 1.
struct Epilogue {
  OutKind out = OutKind::kS32;
  const float* multipliers = nullptr;  // eq. (36) (or (39)); unused for kS32
  int64_t multiplier_row_stride = 0, multiplier_col_stride = 0;
  const int32_t* bias = nullptr;  // added to the sum with int32 wraparound, as eq. (34) narrows
  int64_t bias_row_stride = 0, bias_col_stride = 0;
  const float* float_bias = nullptr;  // kF32Bias: one per column
  int32_t zero_point = 0;
  // Eq. (46)'s clamp bounds in units of s_y (infinite when absent); as the reference forms them:
  // float(act / s_y) widened to double.
  double low = -std::numeric_limits<double>::infinity();
  double high = std::numeric_limits<double>::infinity();
  // Every multiplier and the sum's ratio are finite, so no value is NaN: eq. (64) applies.
  bool finite = false;
  // Eq. (45)'s sum, read at the offsets the output is written to.
  SumKind sum_kind = SumKind::kNone;
  const void* sum = nullptr;
  double sum_ratio = 0;
  int32_t sum_zero_point = 0;
};

// Eq. (46)'s bounds and the saturation of an 8-bit output kind (kU8, kS8) in float, and both
// merged as eq. (64) merges them: the constants of every ISA's requantizing epilogue.
struct RequantBounds {
  float low = 0, high = 0;                // eq. (46)'s bounds, as float
  float q_low = 0, q_high = 0;            // [q_min − z_y, q_max − z_y]: saturate() before + z_y
  float merged_low = 0, merged_high = 0;  // eq. (64)'s l', h'
};
// Compiled without ISA flags (int8_epilogue.cc), so the ISA-specific files may all call it.
RequantBounds requant_bounds(const Epilogue& e, OutKind out);

// Whether `count` values are all finite (Epilogue::finite).
inline bool all_finite(const float* values, int64_t count) {
  bool finite = true;
  for (int64_t i = 0; i < count; ++i) finite &= std::isfinite(values[i]);
  return finite;
}

}  // namespace quench::x86

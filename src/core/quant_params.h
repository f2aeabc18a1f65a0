// The quantization of one tensor, the one vocabulary every layer uses: the kernels reading Q/DQ
// parameters, the quantizer writing them, training that learns them. Affine (docs/quantization.md
// eqs. (1)-(5)): x ≈ s · (q − z), per tensor (one scale and zero point) or per axis (one pair per
// index along `axis`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "quench/dtype.h"

namespace quench {

struct QuantParams {
  DType type = DType::kUInt8;        // the quantized element type: u8, s8 or s32
  int64_t axis = -1;                 // the per-axis dimension (non-negative), -1 per tensor
  std::vector<float> scales;         // one value, or one per index along `axis`
  std::vector<int32_t> zero_points;  // as many as scales; zeros when the model gives none

  static QuantParams per_tensor(DType type, float scale, int32_t zero_point) {
    return QuantParams{type, -1, {scale}, {zero_point}};
  }

  bool per_axis() const { return axis >= 0; }
  int64_t size() const { return static_cast<int64_t>(std::max(scales.size(), zero_points.size())); }
  float scale(int64_t index = 0) const { return scales[scales.size() == 1 ? 0 : index]; }
  int32_t zero_point(int64_t index = 0) const {
    return zero_points[zero_points.size() == 1 ? 0 : index];
  }
};

}  // namespace quench

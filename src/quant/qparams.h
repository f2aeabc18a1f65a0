// Scale and zero point of a quantized tensor, from a calibrated range or from weights
// (docs/quantization.md eqs. (20)-(25)).
#pragma once

#include <cstdint>
#include <vector>

#include "quench/tensor.h"

namespace quench {

struct QuantParams {
  float scale = 1.f;
  int32_t zero_point = 0;
  DType type = DType::kUInt8;
};

// Integer range used for `type`: u8 [0, 255]; s8 [-127, 127] (symmetric: -128 is never produced,
// so that zero stays the exact midpoint and int8 products fit VNNI without saturation).
int32_t qmin(DType type);
int32_t qmax(DType type);

// Activations: u8 asymmetric (eqs. (20)-(22)) or s8 symmetric (eq. (23)). The range is widened
// to include 0 so that zero is exact; a degenerate range gets scale 1 (eq. (24)).
QuantParams activation_params(float min, float max, DType type);

// Weights of shape [C, ...] along `axis`: s8 symmetric per channel (or per tensor when
// `per_channel` is false): scale_c = max|W_c| / 127, zero point 0 (eq. (25)).
struct WeightQuant {
  Tensor quantized;           // int8, same shape
  std::vector<float> scales;  // one per channel (one when per tensor)
  int64_t axis = 0;
};
WeightQuant quantize_weights(const Tensor& weights, int64_t axis, bool per_channel);

// Bias of a Conv/Gemm: int32 with scale s_x * s_w[c] and zero point 0 (eq. (26)).
Tensor quantize_bias(const Tensor& bias, float input_scale, const std::vector<float>& w_scales,
                     std::vector<float>* bias_scales);

}  // namespace quench

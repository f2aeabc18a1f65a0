// Scale and zero point of a quantized tensor, from a calibrated range or from weights
// (docs/quantization.md eqs. (20)-(26)).
#pragma once

#include <cstdint>
#include <vector>

#include "core/quant_params.h"
#include "quench/tensor.h"

namespace quench::quant {

// The integer range quench's quantizer maps values to: u8 [0, 255]; s8 [−127, 127], symmetric
// (−128 is never produced, so that zero stays the exact midpoint and u8 x s8 products fit VNNI's
// int32 sums). Narrower than the saturation bounds of the type itself (kQuantMin / kQuantMax of
// core/requantize.h), which the runtime applies to whatever a model holds.
struct IntRange {
  int32_t lowest = 0;
  int32_t highest = 0;
};
IntRange quantizer_range(DType type);

// Activations: u8 asymmetric (eqs. (20)-(22)) or s8 symmetric (eq. (23)), per tensor. The range
// is widened to include 0 so that zero is exact; a degenerate range gets scale 1 (eq. (24)).
QuantParams activation_params(float min, float max, DType type);

// Largest integer of a symmetric `bits`-bit weight: 2^(bits-1) - 1 (127, 7, 1; eq. (25)).
int32_t weight_qmax(int bits);

// Weights of shape [C, ...] along `axis`: symmetric per channel (or per tensor when
// `per_channel` is false): scale_c = max|W_c| / qmax, zero point 0, values in [-qmax, qmax]
// stored as int8 (eq. (25)).
struct WeightQuant {
  Tensor quantized;           // int8, same shape
  std::vector<float> scales;  // one per channel (one when per tensor)
  int64_t axis = 0;
};
WeightQuant quantize_weights(const Tensor& weights, int64_t axis, bool per_channel, int bits = 8);

// Bias of a Conv/Gemm: int32 with scale s_x * s_w[c] and zero point 0 (eq. (26)).
Tensor quantize_bias(const Tensor& bias, float input_scale, const std::vector<float>& w_scales,
                     std::vector<float>* bias_scales);

}  // namespace quench::quant

// Fake quantization for quantization-aware training (docs/quantization.md eqs. (95)-(102)): the
// internal op quench.internal FakeQuantize(X, scale[, zero_point]) -> Y quantizes and dequantizes
// X exactly as QuantizeLinear/DequantizeLinear would, and its backward is the straight-through
// estimator with clipping for X and the LSQ / LSQ+ gradients for a learned scale and offset.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench::train::qat {

inline constexpr const char* kFakeQuantizeOp = "FakeQuantize";

// The integer range and layout of one FakeQuantize node (its attributes qmin, qmax, axis,
// grad_scale, per_sample, scale_gradient).
struct FakeQuantSpec {
  int32_t qmin = 0;
  int32_t qmax = 255;
  int64_t axis = -1;  // per-channel along this axis of X; -1: one scale for the whole tensor
  // LSQ gradient scale g of eq. (100); 0: computed from the tensor, 1/sqrt(N·Qp).
  float grad_scale = 0;
  bool per_sample = false;  // an activation: N of eq. (100) counts the elements of one sample
  // false: the scale is not learned through this node (an int32 bias, whose scale s_x · s_w is
  // the product of learned scales, (126)): the backward gives dX only.
  bool scale_gradient = true;
  static FakeQuantSpec of(const Node& node);
};

// (97) The integer range of a b-bit quantizer: asymmetric [0, 2^b − 1], symmetric
// [−(2^(b−1) − 1), 2^(b−1) − 1]. kInvalidArgument outside 2..8 bits.
FakeQuantSpec fake_quant_range(int bits, bool symmetric);

// (95)-(96) Y = (clamp(round_half_even(X / s) + z, qmin, qmax) − z) · s, with z the zero point
// rounded to an integer (a learned offset is kept in float and rounded as the exporter rounds it).
// `zero_point` may be nullptr (z = 0). Scale and zero point: one value, or one per index along
// spec.axis.
// The fast form runs the vectorized loops of kernels/x86/qloops.h over each run of values that
// share a scale; the reference, one element at a time with the quantizer's own helpers, is the
// oracle it is tested against (bit-exact).
Tensor fake_quantize(const Tensor& x, const Tensor& scale, const Tensor* zero_point,
                     const FakeQuantSpec& spec);
Tensor fake_quantize_reference(const Tensor& x, const Tensor& scale, const Tensor* zero_point,
                               const FakeQuantSpec& spec);

struct FakeQuantGrads {
  Tensor dx;           // (98) straight-through inside the range, 0 where clipped
  Tensor dscale;       // (99) LSQ, times g
  Tensor dzero_point;  // (101) LSQ+, times g (undefined when zero_point is nullptr)
};
// Fast and reference forms as for fake_quantize(): dx bit-exact, the scale and offset gradients
// (sums over many values) equal up to the order of the float additions.
FakeQuantGrads fake_quantize_backward(const Tensor& x, const Tensor& scale,
                                      const Tensor* zero_point, const Tensor& dy,
                                      const FakeQuantSpec& spec);
FakeQuantGrads fake_quantize_backward_reference(const Tensor& x, const Tensor& scale,
                                                const Tensor* zero_point, const Tensor& dy,
                                                const FakeQuantSpec& spec);

// (100) g = 1 / sqrt(N · Qp): N elements per scale (of one sample when `per_sample`: axis 0 is
// the batch), Qp = qmax.
float lsq_grad_scale(const Tensor& x, int64_t scales, int32_t qmax, bool per_sample);

// A FakeQuantize node reading `x` and writing `y`; `zero_point` may be empty.
Node make_fake_quantize_node(const std::string& name, const std::string& x,
                             const std::string& scale, const std::string& zero_point,
                             const std::string& y, const FakeQuantSpec& spec);

}  // namespace quench::train::qat

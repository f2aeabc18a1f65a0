// The requantization of QFusedConv and QFusedMatMul (docs/quantization.md, eqs. (45), (46),
// (150)): their output, residual sum, activation and clamp parameters, read as their reference
// kernels read them (ops/quantized/qfused.cc), so that fast kernels accept exactly what the
// reference accepts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "ops/activation.h"
#include "ops/quantized/integer_products.h"

namespace quench {

// Inputs of QFusedConv and QFusedMatMul after the base op's operands and their parameters.
// QFusedConv's optional kYMax: one quantized upper bound per output channel, of y's type, applied
// to the quantized output (eq. (157); cross-layer equalization's per-channel ReLU6 bound).
struct QFusedInputs {
  static constexpr size_t kYScale = 6, kYZeroPoint = 7, kBias = 8, kSum = 9, kSumScale = 10,
                          kSumZeroPoint = 11, kYMax = 12;
};

// The clamp bounds act_min / act_max in real units (infinite when absent).
struct ActBounds {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};
// The bounds of a QFused node (attributes act_min / act_max, each absent when infinite);
// kInvalidModel when they are NaN or out of order.
ActBounds act_bounds(const Node& node);
void set_act_bounds(Node& node, const ActBounds& bounds);

// The activation of a QFused node applied to the real result (eq. (150); attributes
// "activation", "activation_alpha", "activation_beta" of ops/activation.h) and the real value of
// one output step it is applied at, per output channel or one for all (attribute
// "activation_scales"; y's scale when absent). kInvalidModel for an unknown activation, a step
// that is not positive and finite, or a step count other than 1 or `channels` (unchecked when
// `channels` < 0).
struct FusedActivation {
  Activation f;
  std::vector<float> steps;  // empty: y's scale

  bool active() const { return f.kind != ActKind::kNone; }
  // The step of `channel` for an output of scale `y_scale`.
  float step(int64_t channel, float y_scale) const {
    return steps.empty() ? y_scale : steps[steps.size() == 1 ? 0 : static_cast<size_t>(channel)];
  }
};
FusedActivation fused_activation(const Node& node, int64_t channels);
// The output channels of a QFused node's output `y`: a convolution's dim 1, a matrix product's
// columns.
inline int64_t fused_output_channels(const Node& node, const Shape& y) {
  if (node.op_type == "QFusedMatMul") return y.empty() ? 1 : y.back();
  return y.size() > 1 ? y[1] : 1;
}

// The requantization of eqs. (45), (46) with everything that depends on y's and the sum's
// parameters; prepared when they are constant, else formed once per run (run_params).
class FusedRequant {
 public:
  using In = QFusedInputs;

  FusedRequant(const KernelContext& ctx, const Shape& output) {
    expect_quant_type(ctx, In::kYZeroPoint, "y_zero_point");
    y_ = tensor_params(ctx, In::kYScale, In::kYZeroPoint, ctx.input(In::kYZeroPoint).dtype, "y");
    act_ = act_bounds(ctx.node);
    const int64_t channels = fused_output_channels(ctx.node, output);
    function_ = fused_activation(ctx.node, channels);
    has_y_max_ = ctx.has_input(In::kYMax);
    if (has_y_max_) {
      const TensorDesc& y_max = ctx.input(In::kYMax);
      if (y_max.dtype != ctx.input(In::kYZeroPoint).dtype || y_max.numel() != channels) {
        ctx.fail(ErrorKind::kInvalidModel,
                 "y_max is {} {}, expected {} values of y's type {} (one per output channel)",
                 dtype_name(y_max.dtype), shape_str(y_max.shape), channels,
                 dtype_name(ctx.input(In::kYZeroPoint).dtype));
      }
    }
    has_sum_ = ctx.has_input(In::kSum);
    if (!has_sum_) return;
    expect_quant_type(ctx, In::kSum, "sum");
    if (ctx.input(In::kSum).shape != output) {
      ctx.fail(ErrorKind::kInvalidModel, "sum has shape {}, expected the output's shape {}",
               shape_str(ctx.input(In::kSum).shape), shape_str(output));
    }
    sum_type_ = ctx.input(In::kSum).dtype;
    sum_ = tensor_params(ctx, In::kSumScale, In::kSumZeroPoint, sum_type_, "sum");
  }

  // Per-run values: the sum's ratio s_sum / s_y, its zero point, y's zero point and the clamp
  // bounds in units of s_y (eq. (46)).
  struct RunParams {
    double sum_ratio = 0;
    int32_t sum_zero_point = 0;
    int32_t y_zero_point = 0;
    double low = 0, high = 0;
    float y_scale = 0;
  };
  RunParams run_params(const KernelArgs& args) const {
    RunParams p;
    const float y_scale = y_.scale(args, 0);
    p.y_scale = y_scale;
    p.y_zero_point = y_.zero_point(args, 0);
    p.low = static_cast<double>(act_.min / y_scale);
    p.high = static_cast<double>(act_.max / y_scale);
    if (has_sum_) {
      p.sum_ratio = static_cast<double>(sum_.scale(args, 0) / y_scale);
      p.sum_zero_point = sum_.zero_point(args, 0);
    }
    return p;
  }

  // Eqs. (45), (46) for the output at `offset` of output channel `channel`: float(acc)·M rounds
  // once in float as in eq. (35), so without sum, activation and clamp this is QLinearConv's /
  // QLinearMatMul's result bit for bit; the sum term is added in double, where
  // r_sum·(sum − z_sum) is exact. An activation applies eq. (150) in float on the real value.
  template <class Q>
  Q apply(const RunParams& p, const KernelArgs& args, int64_t offset, int64_t channel, int32_t acc,
          float multiplier) const {
    double value = static_cast<double>(static_cast<float>(acc) * multiplier);
    if (has_sum_) {
      const int32_t sum = zero_point_at(args.inputs[In::kSum], sum_type_, offset);
      value += p.sum_ratio * (sum - p.sum_zero_point);
    }
    if (function_.active()) {
      const float step = function_.step(channel, p.y_scale);
      value = static_cast<double>(function_.f(static_cast<float>(value) * step) / step);
    }
    value = std::clamp(value, p.low, p.high);
    const Q y = saturate<Q>(round_half_even(value) + p.y_zero_point);
    return has_y_max_ ? std::min(y, static_cast<const Q*>(args.inputs[In::kYMax])[channel]) : y;
  }

  const QuantParamSource& y() const { return y_; }
  bool has_sum() const { return has_sum_; }
  bool has_y_max() const { return has_y_max_; }
  const FusedActivation& function() const { return function_; }
  DType sum_type() const { return sum_type_; }

 private:
  QuantParamSource y_, sum_;
  ActBounds act_;
  FusedActivation function_;
  bool has_sum_ = false, has_y_max_ = false;
  DType sum_type_ = DType::kUInt8;
};

// Eq. (157) after a kernel that wrote y without it: y = min(y, y_max[c]) over y [batch, channels,
// spatial...] (plain) or its channels-last form.
template <class Q>
void apply_y_max(Q* y, const Q* y_max, int64_t batch, int64_t channels, int64_t spatial,
                 bool channels_last) {
  const int64_t rows = channels_last ? batch * spatial : batch * channels;
  const int64_t width = channels_last ? channels : spatial;
  for (int64_t r = 0; r < rows; ++r) {
    // Vectorized: a pixel's channels against the bounds, or a plane against its one bound.
    Q* __restrict row = y + r * width;
    if (channels_last) {
      const Q* __restrict bound = y_max;
      for (int64_t c = 0; c < width; ++c) row[c] = row[c] < bound[c] ? row[c] : bound[c];
    } else {
      const Q bound = y_max[r % channels];
      for (int64_t i = 0; i < width; ++i) row[i] = row[i] < bound ? row[i] : bound;
    }
  }
}

}  // namespace quench

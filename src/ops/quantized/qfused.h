// The requantization of QFusedConv and QFusedMatMul (docs/quantization.md, eqs. (45), (46)):
// their output, residual sum and clamp parameters, read as their reference kernels read them
// (ops/qfused_ops.cc), so that fast kernels accept exactly what the reference accepts.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "ops/quantized/integer_products.h"

namespace quench {

// Inputs of QFusedConv and QFusedMatMul after the base op's operands and their parameters.
struct QFusedInputs {
  static constexpr size_t kYScale = 6, kYZeroPoint = 7, kBias = 8, kSum = 9, kSumScale = 10,
                          kSumZeroPoint = 11;
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

// The requantization of eqs. (45), (46) with everything that depends on y's and the sum's
// parameters; prepared when they are constant, else formed once per run (run_params).
class FusedRequant {
 public:
  using In = QFusedInputs;

  FusedRequant(const KernelContext& ctx, const Shape& output) {
    expect_quant_type(ctx, In::kYZeroPoint, "y_zero_point");
    y_ = tensor_params(ctx, In::kYScale, In::kYZeroPoint, ctx.input(In::kYZeroPoint).dtype, "y");
    act_ = act_bounds(ctx.node);
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
  };
  RunParams run_params(const KernelArgs& args) const {
    RunParams p;
    const float y_scale = y_.scale(args, 0);
    p.y_zero_point = y_.zero_point(args, 0);
    p.low = static_cast<double>(act_.min / y_scale);
    p.high = static_cast<double>(act_.max / y_scale);
    if (has_sum_) {
      p.sum_ratio = static_cast<double>(sum_.scale(args, 0) / y_scale);
      p.sum_zero_point = sum_.zero_point(args, 0);
    }
    return p;
  }

  // Eqs. (45), (46) for the output at `offset`: float(acc)·M rounds once in float as in eq. (35),
  // so without sum and clamp this is QLinearConv's / QLinearMatMul's result bit for bit; the sum
  // term is added in double, where r_sum·(sum − z_sum) is exact.
  template <class Q>
  Q apply(const RunParams& p, const KernelArgs& args, int64_t offset, int32_t acc,
          float multiplier) const {
    double value = static_cast<double>(static_cast<float>(acc) * multiplier);
    if (has_sum_) {
      const int32_t sum = zero_point_at(args.inputs[In::kSum], sum_type_, offset);
      value += p.sum_ratio * (sum - p.sum_zero_point);
    }
    value = std::clamp(value, p.low, p.high);
    return saturate<Q>(round_half_even(value) + p.y_zero_point);
  }

  const QuantParamSource& y() const { return y_; }
  bool has_sum() const { return has_sum_; }
  DType sum_type() const { return sum_type_; }

 private:
  QuantParamSource y_, sum_;
  ActBounds act_;
  bool has_sum_ = false;
  DType sum_type_ = DType::kUInt8;
};

}  // namespace quench

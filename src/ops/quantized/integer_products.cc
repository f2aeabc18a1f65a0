// Shared pieces of the quantized op family (see quant_ops.h) and its registration.
#include "ops/quantized/integer_products.h"
#include "core/check.h"

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/broadcast.h"
#include "ops/conv.h"
#include "ops/register.h"

namespace quench {

void check_quant_input_type(const InferContext& ctx, size_t i, const char* name, bool allow_int32) {
  if (!ctx.has_input(i)) return;
  const DType t = ctx.input_type(i);
  if (t != DType::kUndefined && !is_quant_type(t, allow_int32)) {
    ctx.fail("input {} is {}, expected uint8 or int8{}", name, dtype_name(t),
             allow_int32 ? " or int32" : "");
  }
}

void check_float_input_type(const InferContext& ctx, size_t i, const char* name) {
  if (!ctx.has_input(i)) return;
  const DType t = ctx.input_type(i);
  if (t != DType::kUndefined && t != DType::kFloat32) {
    ctx.fail("input {} is {}, expected float", name, dtype_name(t));
  }
}

void check_same_type(const InferContext& ctx, size_t a, size_t b, const char* what) {
  if (!ctx.has_input(a) || !ctx.has_input(b)) return;
  const DType ta = ctx.input_type(a), tb = ctx.input_type(b);
  if (ta != DType::kUndefined && tb != DType::kUndefined && ta != tb) {
    ctx.fail("{} is {} but the tensor it belongs to is {}", what, dtype_name(tb), dtype_name(ta));
  }
}

void expect_quant_type(const KernelContext& ctx, size_t i, const char* name, bool allow_int32) {
  const DType t = ctx.input(i).dtype;
  if (!is_quant_type(t, allow_int32)) {
    ctx.fail(ErrorKind::kInvalidModel, "input {} is {}, expected uint8 or int8{}", name,
             dtype_name(t), allow_int32 ? " or int32" : "");
  }
}

void expect_same_type(const KernelContext& ctx, size_t a, size_t b, const char* what) {
  if (ctx.has_input(a) && ctx.has_input(b) && ctx.inputs[a].dtype != ctx.inputs[b].dtype) {
    ctx.fail(ErrorKind::kInvalidModel, "{} is {} but the tensor it belongs to is {}", what,
             dtype_name(ctx.inputs[b].dtype), dtype_name(ctx.inputs[a].dtype));
  }
}

DType output_type_from_zero_point(const InferContext& ctx, size_t zero_point, bool default_u8) {
  if (!ctx.has_input(zero_point)) return default_u8 ? DType::kUInt8 : DType::kUndefined;
  return ctx.input_type(zero_point);
}

void infer_tensor_params(const InferContext& ctx, size_t data, size_t scale, size_t zero_point,
                         const char* what) {
  check_float_input_type(ctx, scale, "a scale");
  check_same_type(ctx, data, zero_point, "a zero point");
  check_quant_param_shapes(ctx.node(), what, ctx.input_shape(scale),
                           ctx.has_input(zero_point) ? ctx.input_shape(zero_point) : nullptr,
                           nullptr);
}

QuantParamSource tensor_params(const KernelContext& ctx, size_t scale, size_t zero_point,
                               DType type, const char* what) {
  QuantParamSource p(ctx, scale, zero_point, type);
  if (p.size() != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "{}'s scale and zero point have {} values, expected one",
             what, p.size());
  }
  return p;
}

ParamIndexing param_indexing(const Node& node, const char* what, const Shape& param,
                             const Shape& operand, int reduced_dim) {
  const size_t rank = operand.size();
  const size_t reduced = rank + reduced_dim;
  bool ok = param.size() <= rank;
  for (size_t i = 0; ok && i < param.size(); ++i) {
    const size_t dim = rank - param.size() + i;
    ok = param[i] == 1 || (param[i] == operand[dim] && dim != reduced);
  }
  if (!ok) {
    fail_node(node,
              "{} has shape {}, which does not broadcast to {} with size 1 along the reduced dim "
              "{}",
              what, shape_str(param), shape_str(operand), reduced);
  }
  const Shape strides = ref::broadcast_strides(param, operand);
  ParamIndexing p;
  p.row_stride = strides[rank - 2];
  p.col_stride = strides[rank - 1];
  const Shape batch(operand.begin(), operand.end() - 2);
  const int64_t matrices = shape_numel(batch);
  p.matrix_offsets.assign(static_cast<size_t>(matrices), 0);
  for (int64_t matrix = 0; matrix < matrices; ++matrix) {
    int64_t rest = matrix;
    for (size_t d = batch.size(); d-- > 0;) {
      p.matrix_offsets[matrix] += rest % batch[d] * strides[d];
      rest /= batch[d];
    }
  }
  return p;
}

CenteredOperand::CenteredOperand(const KernelContext& ctx, size_t input,
                                 QuantParamSource zero_points, CenterLayout layout)
    : input_(input),
      type_(ctx.input(input).dtype),
      zero_points_(std::move(zero_points)),
      layout_(std::move(layout)) {
  QUENCH_CHECK(is_quant_type(type_), ErrorKind::kInternal, "{}: centering a {} operand",
               ctx.node.describe(), dtype_name(type_));
  const Tensor* value = ctx.input(input).constant;
  if (value != nullptr && zero_points_.known()) {
    prepared_.resize(static_cast<size_t>(value->numel()));
    center(value->raw_data(), KernelArgs{}, prepared_.data());
  }
}

size_t CenteredOperand::scratch_bytes() const {
  if (!prepared_.empty()) return 0;
  return static_cast<size_t>(layout_.matrices * layout_.rows * layout_.cols) * sizeof(int16_t);
}

const int16_t* CenteredOperand::data(const KernelArgs& args, void* scratch) const {
  if (!prepared_.empty()) return prepared_.data();
  int16_t* out = static_cast<int16_t*>(scratch);
  center(args.inputs[input_], args, out);
  return out;
}

void CenteredOperand::center(const void* q, const KernelArgs& args, int16_t* out) const {
  const CenterLayout& l = layout_;
  const bool per_tensor = l.zero_points.matrix_offsets.empty();
  const int32_t tensor_zero_point = per_tensor ? zero_points_.zero_point(args, 0) : 0;
  visit_quant_type(type_, [&](auto t) {
    using Q = typename decltype(t)::type;
    const Q* values = static_cast<const Q*>(q);
    for (int64_t matrix = 0; matrix < l.matrices; ++matrix) {
      const Q* source = values + matrix * l.rows * l.cols;
      for (int64_t row = 0; row < l.rows; ++row) {
        for (int64_t col = 0; col < l.cols; ++col) {
          const Q value = l.transpose ? source[col * l.rows + row] : source[row * l.cols + col];
          const int32_t zero_point =
              per_tensor ? tensor_zero_point
                         : zero_points_.zero_point(args, l.zero_points.index(matrix, row, col));
          // |value − zero_point| <= 255 for a zero point of the operand's type.
          *out++ = static_cast<int16_t>(value - zero_point);
        }
      }
    }
  });
}

ChannelMultipliers::ChannelMultipliers(QuantParamSource a, QuantParamSource b,
                                       std::optional<QuantParamSource> y, int64_t channels,
                                       float alpha)
    : a_(std::move(a)), b_(std::move(b)), y_(std::move(y)), channels_(channels), alpha_(alpha) {
  if (a_.known() && b_.known() && (!y_ || y_->known())) {
    prepared_.resize(static_cast<size_t>(channels_));
    compute(KernelArgs{}, prepared_.data());
  }
}

size_t ChannelMultipliers::scratch_bytes() const {
  return prepared_.empty() ? static_cast<size_t>(channels_) * sizeof(float) : 0;
}

const float* ChannelMultipliers::data(const KernelArgs& args, void* scratch) const {
  if (!prepared_.empty()) return prepared_.data();
  float* out = static_cast<float*>(scratch);
  compute(args, out);
  return out;
}

void ChannelMultipliers::compute(const KernelArgs& args, float* out) const {
  const float a_scale = alpha_ * a_.scale(args, 0);
  for (int64_t channel = 0; channel < channels_; ++channel) {
    const float b_scale = b_.scale(args, channel);
    out[channel] =
        y_ ? requant_multiplier(a_scale, b_scale, y_->scale(args, 0)) : a_scale * b_scale;
  }
}

size_t ScratchPlan::add(size_t bytes) {
  const size_t offset = total_;
  total_ += (bytes + 63) / 64 * 64;
  return offset;
}

}  // namespace quench

// QFusedConv and QFusedMatMul (domain quench.internal): QLinearConv / QLinearMatMul followed by a
// quantized residual sum, an activation and a clamp, requantized once (docs/quantization.md,
// eqs. (45), (46), (150)).
// The QDQ-lowering pass makes them; the integer sums are QLinearConv's and QLinearMatMul's.
#include <cmath>
#include <limits>

#include "core/check.h"
#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/fused.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/qfused.h"
#include "ops/register.h"

namespace quench {
namespace {

// Inputs shared by both ops: the base op's eight, the int32 bias, then the sum triple.
enum : size_t {
  kYScale = QFusedInputs::kYScale,
  kYZeroPoint = QFusedInputs::kYZeroPoint,
  kBias = QFusedInputs::kBias,
  kSum = QFusedInputs::kSum,
  kSumScale = QFusedInputs::kSumScale,
  kSumZero = QFusedInputs::kSumZeroPoint
};
constexpr size_t kBaseInputs = 9;  // QLinearConv's (with its bias B)
constexpr MatMulInputs kMatMulInputs{0, 1, 2, 3, 4, 5};

// Runs the base op's shape inference on the first `base_inputs` inputs.
void infer_base(InferContext& ctx, const char* base_op, size_t base_inputs) {
  const OpDef* def = op_registry().find("", base_op);
  QUENCH_CHECK(def != nullptr, ErrorKind::kInternal, "{} is not registered", base_op);
  std::vector<const ValueInfo*> inputs;
  std::vector<const Tensor*> constants;
  for (size_t i = 0; i < base_inputs; ++i) {
    inputs.push_back(ctx.has_input(i) ? &ctx.input(i) : nullptr);
    constants.push_back(ctx.constant(i));
  }
  std::vector<ValueInfo> outputs(ctx.num_outputs());
  InferContext base(ctx.node(), ctx.opset(), std::move(inputs), std::move(constants), outputs);
  def->infer(base);
  for (size_t i = 0; i < outputs.size(); ++i) ctx.output(i) = std::move(outputs[i]);
}

// The sum triple: a quantized tensor of the output's shape with per-tensor parameters. The
// sum's type may differ from y's.
void infer_sum(InferContext& ctx) {
  if (!ctx.has_input(kSum)) {
    if (ctx.has_input(kSumScale) || ctx.has_input(kSumZero)) {
      ctx.fail("sum_scale or sum_zero_point is given without a sum");
    }
    return;
  }
  if (!ctx.has_input(kSumScale)) ctx.fail("a sum needs its scale (input {})", size_t{kSumScale});
  check_quant_input_type(ctx, kSum, "sum");
  infer_tensor_params(ctx, kSum, kSumScale, kSumZero, "sum");
  const SymbolicShape* sum = ctx.input_shape(kSum);
  const auto& out = ctx.output(0).shape;
  if (sum == nullptr || !out) return;
  bool same = sum->size() == out->size();
  for (size_t d = 0; same && d < sum->size(); ++d) {
    const Dim &a = (*sum)[d], &b = (*out)[d];
    same = !a.known() || !b.known() || a.value == b.value;
  }
  if (!same) {
    ctx.fail("sum has shape {}, expected the output's shape {}", shape_str(*sum), shape_str(*out));
  }
}

// Eq. (157)'s bounds: y's type, one per output channel.
void infer_y_max(InferContext& ctx) {
  if (!ctx.has_input(QFusedInputs::kYMax)) return;
  const DType type = ctx.input_type(QFusedInputs::kYMax), y = ctx.input_type(kYZeroPoint);
  if (type != DType::kUndefined && y != DType::kUndefined && type != y) {
    ctx.fail("y_max is {}, expected y's type {}", dtype_name(type), dtype_name(y));
  }
  const SymbolicShape* bounds = ctx.input_shape(QFusedInputs::kYMax);
  const auto& out = ctx.output(0).shape;
  if (bounds == nullptr || !out || out->size() < 2) return;
  const Dim& channels = (*out)[1];
  if (bounds->size() != 1 ||
      ((*bounds)[0].known() && channels.known() && (*bounds)[0].value != channels.value)) {
    ctx.fail("y_max has shape {}, expected [{}] (one per output channel)", shape_str(*bounds),
             channels.known() ? std::to_string(channels.value) : "C");
  }
}

void infer_qfused_conv(InferContext& ctx) {
  act_bounds(ctx.node());
  fused_activation(ctx.node(), -1);
  infer_base(ctx, "QLinearConv", kBaseInputs);
  infer_sum(ctx);
  infer_y_max(ctx);
}

void infer_qfused_matmul(InferContext& ctx) {
  if (ctx.has_input(QFusedInputs::kYMax)) ctx.fail("y_max is QFusedConv's only");
  act_bounds(ctx.node());
  fused_activation(ctx.node(), -1);
  infer_base(ctx, "QLinearMatMul", kBias);
  if (ctx.has_input(kBias)) {
    const DType type = ctx.input_type(kBias);
    if (type != DType::kUndefined && type != DType::kInt32) {
      ctx.fail("bias is {}, expected int32", dtype_name(type));
    }
    const SymbolicShape* bias = ctx.input_shape(kBias);
    const SymbolicShape* b = ctx.input_shape(3);
    if (bias && bias->size() != 1) ctx.fail("bias has shape {}, expected [N]", shape_str(*bias));
    if (bias && b && !b->empty()) {
      const Dim& n = b->size() == 1 ? Dim(1) : b->back();
      if ((*bias)[0].known() && n.known() && (*bias)[0].value != n.value) {
        ctx.fail("bias has {} values, expected one per column of B ({})", (*bias)[0].value,
                 n.value);
      }
    }
  }
  infer_sum(ctx);
}

void expect_int32_bias(const KernelContext& ctx) {
  if (ctx.has_input(kBias) && ctx.inputs[kBias].dtype != DType::kInt32) {
    ctx.fail(ErrorKind::kInvalidModel, "bias is {}, expected int32",
             dtype_name(ctx.inputs[kBias].dtype));
  }
}

template <class Q>
std::unique_ptr<Kernel> qfused_conv_kernel(IntConv c, ChannelMultipliers multipliers,
                                           FusedRequant requant, bool has_bias) {
  ScratchPlan scratch;
  const size_t x_at = scratch.add(c.x.scratch_bytes());
  const size_t w_at = scratch.add(c.w.scratch_bytes());
  const size_t multipliers_at = scratch.add(multipliers.scratch_bytes());
  const size_t conv_at = scratch.add(ref::conv_centered_scratch_bytes(c.geometry));
  return ref::make_kernel(
      [c = std::move(c), multipliers = std::move(multipliers), requant = std::move(requant),
       has_bias, x_at, w_at, multipliers_at, conv_at](const KernelArgs& a) {
        const int16_t* x = c.x.data(a, scratch_at(a.scratch, x_at));
        const int16_t* w = c.w.data(a, scratch_at(a.scratch, w_at));
        const float* multiplier = multipliers.data(a, scratch_at(a.scratch, multipliers_at));
        const int32_t* bias = has_bias ? ref::in<int32_t>(a, kBias) : nullptr;
        const FusedRequant::RunParams params = requant.run_params(a);
        Q* y = ref::out<Q>(a, 0);
        ref::conv_centered(c.geometry, x, w, scratch_at(a.scratch, conv_at),
                           [&](int64_t channel, int64_t offset, int64_t sum) {
                             // Exact in int64, then wrapped as QLinearConv's int32 (eq. (34)).
                             const int32_t acc = wrap_to_int32(sum + (bias ? bias[channel] : 0));
                             y[offset] = requant.apply<Q>(params, a, offset, channel, acc,
                                                          multiplier[channel]);
                           });
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qfused_conv(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "x");
  expect_quant_type(ctx, 3, "w");
  expect_int32_bias(ctx);
  const bool has_bias = ctx.has_input(kBias);
  IntConv c = make_int_conv(ctx, 0, 1, 2, 3, 4, 5, has_bias ? &ctx.inputs[kBias].shape : nullptr);
  check_planned_output(ctx, 0, {c.geometry.batch, c.geometry.out_channels}, c.geometry.out_size);
  FusedRequant requant(ctx, ctx.outputs[0].shape);
  ChannelMultipliers multipliers(c.x_params, c.w_params, requant.y(), c.geometry.out_channels);
  return visit_quant_type(ctx.input(kYZeroPoint).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qfused_conv_kernel<Q>(std::move(c), std::move(multipliers), std::move(requant),
                                 has_bias);
  });
}

template <class Q>
std::unique_ptr<Kernel> qfused_matmul_kernel(IntMatMul m, FusedRequant requant, bool has_bias) {
  // As QLinearMatMul: multipliers prepared per B parameter when A is per tensor, else formed per
  // output in run().
  const bool per_b_param = m.a_params.size() == 1;
  ChannelMultipliers multipliers;
  if (per_b_param) {
    multipliers = ChannelMultipliers(m.a_params, m.b_params, requant.y(), m.b_params.size());
  }
  ScratchPlan scratch;
  const size_t a_at = scratch.add(m.a.scratch_bytes());
  const size_t b_at = scratch.add(m.b.scratch_bytes());
  const size_t multipliers_at = scratch.add(multipliers.scratch_bytes());
  return ref::make_kernel(
      [m = std::move(m), requant = std::move(requant), multipliers = std::move(multipliers),
       per_b_param, has_bias, a_at, b_at, multipliers_at](const KernelArgs& args) {
        const int16_t* a = m.a.data(args, scratch_at(args.scratch, a_at));
        const int16_t* b = m.b.data(args, scratch_at(args.scratch, b_at));
        const float* b_multiplier =
            per_b_param ? multipliers.data(args, scratch_at(args.scratch, multipliers_at))
                        : nullptr;
        const int32_t* bias = has_bias ? ref::in<int32_t>(args, kBias) : nullptr;
        const FusedRequant::RunParams params = requant.run_params(args);
        const float y_scale = requant.y().scale(args, 0);
        Q* y = ref::out<Q>(args, 0);
        const int64_t rows = m.product.M, cols = m.product.N;
        ref::matmul_centered(
            m.product, a, b, [&](int64_t batch, int64_t row, int64_t col, int64_t sum) {
              const int64_t b_param = m.b_param(batch, col);
              const float multiplier =
                  per_b_param ? b_multiplier[b_param]
                              : requant_multiplier(m.a_params.scale(args, m.a_param(batch, row)),
                                                   m.b_params.scale(args, b_param), y_scale);
              const int64_t offset = (batch * rows + row) * cols + col;
              const int32_t acc = wrap_to_int32(sum + (bias ? bias[col] : 0));
              y[offset] = requant.apply<Q>(params, args, offset, col, acc, multiplier);
            });
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qfused_matmul(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "a");
  expect_quant_type(ctx, 3, "b");
  expect_int32_bias(ctx);
  IntMatMul m = make_int_matmul(ctx, kMatMulInputs);
  const bool has_bias = ctx.has_input(kBias);
  if (has_bias) {
    const Shape& bias = ctx.inputs[kBias].shape;
    if (bias.size() != 1 || bias[0] != m.product.N) {
      ctx.fail(ErrorKind::kInvalidModel, "bias has shape {}, expected [{}] (one per column of B)",
               shape_str(bias), m.product.N);
    }
  }
  FusedRequant requant(ctx, m.output);
  return visit_quant_type(ctx.input(kYZeroPoint).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qfused_matmul_kernel<Q>(std::move(m), std::move(requant), has_bias);
  });
}

}  // namespace

ActBounds act_bounds(const Node& node) {
  ActBounds b;
  b.min = node.attr_float("act_min", b.min);
  b.max = node.attr_float("act_max", b.max);
  if (std::isnan(b.min) || std::isnan(b.max) || b.min > b.max) {
    fail_node(node, "act_min {} and act_max {} do not bound a range (expected act_min <= act_max)",
              b.min, b.max);
  }
  return b;
}

FusedActivation fused_activation(const Node& node, int64_t channels) {
  FusedActivation a{Activation::from_attributes(node), node.attr_floats("activation_scales")};
  if (a.steps.empty()) return a;
  if (!a.active()) fail_node(node, "activation_scales without an activation");
  if (channels >= 0 && a.steps.size() != 1 && static_cast<int64_t>(a.steps.size()) != channels) {
    fail_node(node, "activation_scales has {} values, expected 1 or {} (one per output channel)",
              a.steps.size(), channels);
  }
  for (size_t c = 0; c < a.steps.size(); ++c) {
    if (!(a.steps[c] > 0.f) || !std::isfinite(a.steps[c])) {
      fail_node(node, "activation_scales[{}] is {}, expected a positive finite scale", c,
                a.steps[c]);
    }
  }
  return a;
}

void set_act_bounds(Node& node, const ActBounds& bounds) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (bounds.min > -kInf) node.set_attr("act_min", bounds.min);
  if (bounds.max < kInf) node.set_attr("act_max", bounds.max);
}

void register_qfused_ops(OpRegistry& r) {
  // The opset is the default domain's, as for the float fused ops; QLinearConv/MatMul start at 10.
  r.add({kInternalDomain, "QFusedConv", 10, infer_qfused_conv, ref_qfused_conv, {}});
  r.add({kInternalDomain, "QFusedMatMul", 10, infer_qfused_matmul, ref_qfused_matmul, {}});
}

}  // namespace quench

// QLinearConv and QLinearMatMul (opset 10): exact integer sums of centered operands (plus the
// int32 bias), requantized with float multipliers (docs/quantization.md, eqs. (33)-(36)).
#include "core/requantize.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

// Checks the output parameters (inputs y_scale and y_zero_point, per tensor) and sets output 0's
// type from the zero point.
void infer_output_params(InferContext& ctx, size_t y_scale, size_t y_zero_point) {
  check_float_input_type(ctx, y_scale, "y_scale");
  check_quant_input_type(ctx, y_zero_point, "y_zero_point");
  check_quant_param_shapes(ctx.node(), "y", ctx.input_shape(y_scale),
                           ctx.has_input(y_zero_point) ? ctx.input_shape(y_zero_point) : nullptr,
                           nullptr);
  ctx.set_output_type(0, ctx.input_type(y_zero_point));
}

// The output parameters of a kernel: per tensor, of the zero point's type.
QuantParamSource output_params(const KernelContext& ctx, size_t y_scale, size_t y_zero_point) {
  expect_quant_type(ctx, y_zero_point, "y_zero_point");
  QuantParamSource y(ctx, y_scale, y_zero_point, ctx.input(y_zero_point).dtype);
  if (y.size() != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "y's scale and zero point have {} values, expected one",
             y.size());
  }
  return y;
}

// QLinearConv inputs.
enum : size_t { kX, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint, kYScale, kYZeroPoint, kBias };

void infer_qlinear_conv(InferContext& ctx) {
  infer_output_params(ctx, kYScale, kYZeroPoint);
  if (ctx.has_input(kBias)) {
    const DType bias = ctx.input_type(kBias);
    if (bias != DType::kUndefined && bias != DType::kInt32) {
      ctx.fail("bias B is {}, expected int32", dtype_name(bias));
    }
  }
  infer_int_conv(ctx, kX, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint, kBias);
}

template <class Q>
std::unique_ptr<Kernel> qlinear_conv_kernel(IntConv c, ChannelMultipliers multipliers,
                                            QuantParamSource y_params, bool has_bias) {
  ScratchPlan scratch;
  const size_t x_at = scratch.add(c.x.scratch_bytes());
  const size_t w_at = scratch.add(c.w.scratch_bytes());
  const size_t multipliers_at = scratch.add(multipliers.scratch_bytes());
  const size_t conv_at = scratch.add(ref::conv_centered_scratch_bytes(c.geometry));
  return ref::make_kernel(
      [c = std::move(c), multipliers = std::move(multipliers), y_params = std::move(y_params),
       has_bias, x_at, w_at, multipliers_at, conv_at](const KernelArgs& a) {
        const int16_t* x = c.x.data(a, scratch_at(a.scratch, x_at));
        const int16_t* w = c.w.data(a, scratch_at(a.scratch, w_at));
        const float* multiplier = multipliers.data(a, scratch_at(a.scratch, multipliers_at));
        const int32_t* bias = has_bias ? ref::in<int32_t>(a, kBias) : nullptr;
        const int32_t zero_point = y_params.zero_point(a, 0);
        Q* y = ref::out<Q>(a, 0);
        ref::conv_centered(c.geometry, x, w, scratch_at(a.scratch, conv_at),
                           [&](int64_t channel, int64_t offset, int64_t sum) {
                             // Exact in int64; the int32 accumulator wraps as ONNX allows (eq.
                             // (34)).
                             const int32_t acc = wrap_to_int32(sum + (bias ? bias[channel] : 0));
                             y[offset] = requantize<Q>(acc, multiplier[channel], zero_point);
                           });
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qlinear_conv(KernelContext& ctx) {
  expect_quant_type(ctx, kX, "x");
  expect_quant_type(ctx, kW, "w");
  QuantParamSource y_params = output_params(ctx, kYScale, kYZeroPoint);
  const bool has_bias = ctx.has_input(kBias);
  if (has_bias && ctx.inputs[kBias].dtype != DType::kInt32) {
    ctx.fail(ErrorKind::kInvalidModel, "bias B is {}, expected int32",
             dtype_name(ctx.inputs[kBias].dtype));
  }
  IntConv c = make_int_conv(ctx, kX, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint,
                            has_bias ? &ctx.inputs[kBias].shape : nullptr);
  check_planned_output(ctx, 0, {c.geometry.batch, c.geometry.out_channels}, c.geometry.out_size);
  ChannelMultipliers multipliers(c.x_params, c.w_params, y_params, c.geometry.out_channels);
  return visit_quant_type(ctx.input(kYZeroPoint).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_conv_kernel<Q>(std::move(c), std::move(multipliers), std::move(y_params),
                                  has_bias);
  });
}

// QLinearMatMul inputs: a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale,
// y_zero_point.
constexpr MatMulInputs kQLinearMatMulInputs{0, 1, 2, 3, 4, 5};
constexpr size_t kMatMulYScale = 6, kMatMulYZeroPoint = 7;

void infer_qlinear_matmul(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "a");
  check_quant_input_type(ctx, 3, "b");
  check_same_type(ctx, 0, 2, "a_zero_point");
  check_same_type(ctx, 3, 5, "b_zero_point");
  check_float_input_type(ctx, 1, "a_scale");
  check_float_input_type(ctx, 4, "b_scale");
  infer_output_params(ctx, kMatMulYScale, kMatMulYZeroPoint);
  check_matmul_param_shapes(ctx, kQLinearMatMulInputs);
  const SymbolicShape* a = ctx.input_shape(0);
  const SymbolicShape* b = ctx.input_shape(3);
  if (a && b) ctx.output(0).shape = matmul_shape(ctx.node(), *a, *b);
}

template <class Q>
std::unique_ptr<Kernel> qlinear_matmul_kernel(IntMatMul m, QuantParamSource y_params) {
  // With A per tensor the multipliers depend on B's parameter only and are prepared per B
  // parameter; per-row A parameters (rare) make one multiplier per output, formed in run().
  const bool per_b_param = m.a_params.size() == 1;
  ChannelMultipliers multipliers;
  if (per_b_param)
    multipliers = ChannelMultipliers(m.a_params, m.b_params, y_params, m.b_params.size());
  ScratchPlan scratch;
  const size_t a_at = scratch.add(m.a.scratch_bytes());
  const size_t b_at = scratch.add(m.b.scratch_bytes());
  const size_t multipliers_at = scratch.add(multipliers.scratch_bytes());
  return ref::make_kernel(
      [m = std::move(m), y_params = std::move(y_params), multipliers = std::move(multipliers),
       per_b_param, a_at, b_at, multipliers_at](const KernelArgs& args) {
        const int16_t* a = m.a.data(args, scratch_at(args.scratch, a_at));
        const int16_t* b = m.b.data(args, scratch_at(args.scratch, b_at));
        const float* b_multiplier =
            per_b_param ? multipliers.data(args, scratch_at(args.scratch, multipliers_at))
                        : nullptr;
        const float y_scale = y_params.scale(args, 0);
        const int32_t zero_point = y_params.zero_point(args, 0);
        Q* y = ref::out<Q>(args, 0);
        const int64_t rows = m.product.M, cols = m.product.N;
        ref::matmul_centered(
            m.product, a, b, [&](int64_t batch, int64_t row, int64_t col, int64_t sum) {
              const int64_t b_param = m.b_param(batch, col);
              const float multiplier =
                  per_b_param ? b_multiplier[b_param]
                              : requant_multiplier(m.a_params.scale(args, m.a_param(batch, row)),
                                                   m.b_params.scale(args, b_param), y_scale);
              y[(batch * rows + row) * cols + col] =
                  requantize<Q>(wrap_to_int32(sum), multiplier, zero_point);
            });
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qlinear_matmul(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "a");
  expect_quant_type(ctx, 3, "b");
  QuantParamSource y_params = output_params(ctx, kMatMulYScale, kMatMulYZeroPoint);
  IntMatMul m = make_int_matmul(ctx, kQLinearMatMulInputs);
  return visit_quant_type(ctx.input(kMatMulYZeroPoint).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_matmul_kernel<Q>(std::move(m), std::move(y_params));
  });
}

}  // namespace

void register_qlinear_ops(OpRegistry& r) {
  r.add({"", "QLinearConv", 10, infer_qlinear_conv, ref_qlinear_conv, {}});
  r.add({"", "QLinearMatMul", 10, infer_qlinear_matmul, ref_qlinear_matmul, {}});
}

}  // namespace quench

// QuantizeLinear and DequantizeLinear (opset 10: per-tensor; opset 13: per-axis parameters and the
// `axis` attribute) and DynamicQuantizeLinear (opset 11): eqs. (31), (32) and (37) of
// docs/quantization.md.
#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {

namespace {

// Input positions of QuantizeLinear (x, y_scale, y_zero_point) and DequantizeLinear (x, x_scale,
// x_zero_point).
constexpr size_t kData = 0, kScale = 1, kZeroPoint = 2;

bool is_scalar_like(const SymbolicShape& shape) {
  for (const Dim& d : shape) {
    if (!d.known() || d.value != 1) return false;
  }
  return true;
}

// The per-axis length of a Q/DQ node's parameters, or nullopt when they are per tensor: from
// opset 13 a 1-D scale of more than one element quantizes along `axis` (default 1).
std::optional<Dim> qdq_axis_size(const Node& node, int64_t opset, const SymbolicShape* data,
                                 const SymbolicShape* scale) {
  if (opset < 13 || scale == nullptr || scale->size() != 1 || is_scalar_like(*scale)) {
    return std::nullopt;
  }
  if (data == nullptr) return Dim();
  const int64_t axis = normalize_axis(node.attr_int("axis", 1), data->size(), node);
  return (*data)[axis];
}

void check_qdq_params(InferContext& ctx, const char* what) {
  const SymbolicShape* data = ctx.input_shape(kData);
  const SymbolicShape* scale = ctx.input_shape(kScale);
  const SymbolicShape* zero_point =
      ctx.has_input(kZeroPoint) ? ctx.input_shape(kZeroPoint) : nullptr;
  const std::optional<Dim> axis_size = qdq_axis_size(ctx.node(), ctx.opset(), data, scale);
  check_quant_param_shapes(ctx.node(), what, scale, zero_point, axis_size ? &*axis_size : nullptr);
}

void infer_quantize_linear(InferContext& ctx) {
  const DType x = ctx.input_type(kData);
  if (x != DType::kUndefined && x != DType::kFloat32 && x != DType::kInt32) {
    ctx.fail("input x is {}, expected float or int32", dtype_name(x));
  }
  check_float_input_type(ctx, kScale, "y_scale");
  check_quant_input_type(ctx, kZeroPoint, "y_zero_point");
  check_qdq_params(ctx, "y");
  ctx.output(0) =
      ValueInfo{output_type_from_zero_point(ctx, kZeroPoint, true), ctx.input(kData).shape, ""};
}

void infer_dequantize_linear(InferContext& ctx) {
  check_quant_input_type(ctx, kData, "x", true);
  check_float_input_type(ctx, kScale, "x_scale");
  check_same_type(ctx, kData, kZeroPoint, "x_zero_point");
  check_qdq_params(ctx, "x");
  ctx.output(0) = ValueInfo{DType::kFloat32, ctx.input(kData).shape, ""};
}

// The data viewed as [outer, channels, inner] with one parameter pair per channel (channels = 1
// per tensor).
struct AxisLoop {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
};

// The loop of a Q/DQ kernel and its parameters, checked as shape inference checks them.
std::pair<AxisLoop, QuantParamSource> qdq_setup(const KernelContext& ctx, DType quant_type,
                                                const char* what) {
  const Shape& data = ctx.input(kData).shape;
  const SymbolicShape data_sym = symbolic(data);
  const SymbolicShape scale_sym = symbolic(ctx.input(kScale).shape);
  std::optional<SymbolicShape> zp_sym;
  if (ctx.has_input(kZeroPoint)) zp_sym = symbolic(ctx.inputs[kZeroPoint].shape);
  const std::optional<Dim> axis_size = qdq_axis_size(ctx.node, ctx.opset, &data_sym, &scale_sym);
  check_quant_param_shapes(ctx.node, what, &scale_sym, zp_sym ? &*zp_sym : nullptr,
                           axis_size ? &*axis_size : nullptr);
  QuantParamSource params(ctx, kScale, kZeroPoint, quant_type);
  AxisLoop loop;
  loop.inner = shape_numel(data);
  if (params.size() > 1) {
    const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 1), data.size(), ctx.node);
    loop.outer = shape_numel(std::span(data).first(axis));
    loop.channels = data[axis];
    loop.inner = shape_numel(std::span(data).subspan(axis + 1));
  }
  return {loop, std::move(params)};
}

template <class X, class Q>
std::unique_ptr<Kernel> quantize_kernel(AxisLoop loop, QuantParamSource params) {
  return ref::make_kernel([loop, params = std::move(params)](const KernelArgs& a) {
    const X* x = ref::in<X>(a, kData);
    Q* y = ref::out<Q>(a, 0);
    for (int64_t outer = 0; outer < loop.outer; ++outer) {
      for (int64_t channel = 0; channel < loop.channels; ++channel) {
        const float scale = params.scale(a, channel);
        const int32_t zero_point = params.zero_point(a, channel);
        for (int64_t i = 0; i < loop.inner; ++i) {
          *y++ = quantize<Q>(static_cast<float>(*x++), scale, zero_point);
        }
      }
    }
  });
}

std::unique_ptr<Kernel> ref_quantize_linear(KernelContext& ctx) {
  const DType x = ctx.input(kData).dtype;
  if (x != DType::kFloat32 && x != DType::kInt32) {
    ctx.fail(ErrorKind::kUnsupported, "input x is {}; float and int32 are supported",
             dtype_name(x));
  }
  const DType y = ctx.has_input(kZeroPoint) ? ctx.inputs[kZeroPoint].dtype : DType::kUInt8;
  if (!is_quant_type(y)) {
    ctx.fail(ErrorKind::kInvalidModel, "y_zero_point is {}, expected uint8 or int8", dtype_name(y));
  }
  auto [loop, params] = qdq_setup(ctx, y, "y");
  return visit_quant_type(y, [&, loop = loop, &params = params](auto q) {
    using Q = typename decltype(q)::type;
    if (x == DType::kInt32) return quantize_kernel<int32_t, Q>(loop, std::move(params));
    return quantize_kernel<float, Q>(loop, std::move(params));
  });
}

template <class Q>
std::unique_ptr<Kernel> dequantize_kernel(AxisLoop loop, QuantParamSource params) {
  return ref::make_kernel([loop, params = std::move(params)](const KernelArgs& a) {
    const Q* x = ref::in<Q>(a, kData);
    float* y = ref::out<float>(a, 0);
    for (int64_t outer = 0; outer < loop.outer; ++outer) {
      for (int64_t channel = 0; channel < loop.channels; ++channel) {
        const float scale = params.scale(a, channel);
        const int32_t zero_point = params.zero_point(a, channel);
        for (int64_t i = 0; i < loop.inner; ++i) *y++ = dequantize(*x++, scale, zero_point);
      }
    }
  });
}

std::unique_ptr<Kernel> ref_dequantize_linear(KernelContext& ctx) {
  expect_quant_type(ctx, kData, "x", true);
  expect_same_type(ctx, kData, kZeroPoint, "x_zero_point");
  const DType x = ctx.input(kData).dtype;
  auto [loop, params] = qdq_setup(ctx, x, "x");
  switch (x) {
    case DType::kUInt8:
      return dequantize_kernel<uint8_t>(loop, std::move(params));
    case DType::kInt8:
      return dequantize_kernel<int8_t>(loop, std::move(params));
    default:
      return dequantize_kernel<int32_t>(loop, std::move(params));
  }
}

void infer_dynamic_quantize_linear(InferContext& ctx) {
  check_float_input_type(ctx, 0, "x");
  ctx.output(0) = ValueInfo{DType::kUInt8, ctx.input(0).shape, ""};
  ctx.set_output(1, DType::kFloat32, SymbolicShape{});
  ctx.set_output(2, DType::kUInt8, SymbolicShape{});
}

std::unique_ptr<Kernel> ref_dynamic_quantize_linear(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) {
    ctx.fail(ErrorKind::kInvalidModel, "input x is {}, expected float",
             dtype_name(ctx.input(0).dtype));
  }
  const int64_t count = ctx.input(0).numel();
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  const bool write_scale = has_output(1), write_zero_point = has_output(2);
  return ref::make_kernel([count, write_scale, write_zero_point](const KernelArgs& a) {
    const float* x = ref::in<float>(a, 0);
    // An empty x has the range [0, 0] (eq. (37) widens every range to include 0).
    float min = 0.f, max = 0.f;
    for (int64_t i = 0; i < count; ++i) {
      min = std::min(min, x[i]);
      max = std::max(max, x[i]);
    }
    const DynamicQuantParams p = dynamic_quant_params(min, max);
    uint8_t* y = ref::out<uint8_t>(a, 0);
    for (int64_t i = 0; i < count; ++i) y[i] = quantize<uint8_t>(x[i], p.scale, p.zero_point);
    if (write_scale) *ref::out<float>(a, 1) = p.scale;
    if (write_zero_point) *ref::out<uint8_t>(a, 2) = p.zero_point;
  });
}

}  // namespace

void register_quantize_linear_ops(OpRegistry& r) {
  r.add({"", "QuantizeLinear", 10, infer_quantize_linear, ref_quantize_linear, {}});
  r.add({"", "DequantizeLinear", 10, infer_dequantize_linear, ref_dequantize_linear, {}});
  r.add({"",
         "DynamicQuantizeLinear",
         11,
         infer_dynamic_quantize_linear,
         ref_dynamic_quantize_linear,
         {}});
}

}  // namespace quench

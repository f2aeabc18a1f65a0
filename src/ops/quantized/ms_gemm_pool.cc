// QGemm, QLinearGlobalAveragePool and QLinearAveragePool of ONNX Runtime's com.microsoft domain,
// and the internal DequantizeGlobalAveragePool (QLinearGlobalAveragePool with a float result)
// (opset 1). docs/quantization.md, eqs. (34)-(36), (39), (42), (43), (152).
#include <optional>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/pool.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/domains.h"
#include "ops/linalg.h"
#include "ops/pool.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

// ---- QGemm: A, a_scale, a_zero_point, B, b_scale, b_zero_point, C, y_scale, y_zero_point ----

enum : size_t { kA, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint, kC, kYScale, kYZeroPoint };

// With y_scale the output is quantized (of y_zero_point's type, which must then be given); without
// it the output is float.
void check_qgemm_output_inputs(const Node& node, bool has_scale, bool has_zero_point) {
  if (has_scale != has_zero_point) {
    fail_node(node,
              "y_scale and y_zero_point must be given together (a quantized output) or "
              "both left out (a float output)");
  }
}

void infer_qgemm(InferContext& ctx) {
  check_quant_input_type(ctx, kA, "A");
  check_quant_input_type(ctx, kB, "B");
  check_same_type(ctx, kA, kAZeroPoint, "a_zero_point");
  check_same_type(ctx, kB, kBZeroPoint, "b_zero_point");
  check_float_input_type(ctx, kAScale, "a_scale");
  check_float_input_type(ctx, kBScale, "b_scale");
  const bool quantized = ctx.has_input(kYScale);
  check_qgemm_output_inputs(ctx.node(), quantized, ctx.has_input(kYZeroPoint));
  if (quantized) {
    check_float_input_type(ctx, kYScale, "y_scale");
    check_quant_input_type(ctx, kYZeroPoint, "y_zero_point");
    check_quant_param_shapes(ctx.node(), "y", ctx.input_shape(kYScale),
                             ctx.input_shape(kYZeroPoint), nullptr);
  }
  if (ctx.has_input(kC) && ctx.input_type(kC) != DType::kUndefined &&
      ctx.input_type(kC) != DType::kInt32) {
    ctx.fail("input C is {}, expected int32", dtype_name(ctx.input_type(kC)));
  }
  ctx.set_output_type(0, quantized ? ctx.input_type(kYZeroPoint) : DType::kFloat32);
  const GemmAttrs attrs = gemm_attrs(ctx.node());
  const SymbolicShape* a = ctx.input_shape(kA);
  const SymbolicShape* b = ctx.input_shape(kB);
  if (a && a->size() != 2) ctx.fail("A must be 2-D, got {}", shape_str(*a));
  if (b && b->size() != 2) ctx.fail("B must be 2-D, got {}", shape_str(*b));
  const Dim m = a ? (*a)[attrs.trans_a ? 1 : 0] : Dim();
  const Dim k_a = a ? (*a)[attrs.trans_a ? 0 : 1] : Dim();
  const Dim k_b = b ? (*b)[attrs.trans_b ? 1 : 0] : Dim();
  const Dim n = b ? (*b)[attrs.trans_b ? 0 : 1] : Dim();
  if (k_a.known() && k_b.known() && k_a.value != k_b.value) {
    ctx.fail("inner dimensions differ: A is {} (transA={}), B is {} (transB={})", shape_str(*a),
             int(attrs.trans_a), shape_str(*b), int(attrs.trans_b));
  }
  check_quant_param_shapes(ctx.node(), "a", ctx.input_shape(kAScale), ctx.input_shape(kAZeroPoint),
                           nullptr);
  check_quant_param_shapes(ctx.node(), "b", ctx.input_shape(kBScale),
                           ctx.has_input(kBZeroPoint) ? ctx.input_shape(kBZeroPoint) : nullptr, &n);
  const SymbolicShape out{m, n};
  if (const SymbolicShape* c = ctx.has_input(kC) ? ctx.input_shape(kC) : nullptr) {
    // Unidirectional broadcasting to [M, N], as Gemm's C.
    bool ok = c->size() <= 2;
    for (size_t i = 0; ok && i < c->size(); ++i) {
      const Dim& cd = (*c)[c->size() - 1 - i];
      const Dim& od = out[1 - i];
      ok = !cd.known() || cd.value == 1 || !od.known() || cd.value == od.value;
    }
    if (!ok) ctx.fail("C of shape {} cannot be broadcast to {}", shape_str(*c), shape_str(out));
  }
  ctx.output(0).shape = out;
}

// Everything a QGemm kernel captures: y = requantize(Σ + C, M[n]) or float(Σ + C) · M[n].
struct QGemmPlan {
  ref::CenteredMatMul product;
  CenteredOperand a, b;
  ChannelMultipliers multipliers;
  std::optional<QuantParamSource> y;
  bool has_c = false;
  int64_t c_row_stride = 0, c_col_stride = 0;  // C[m][n] at m * row + n * col
};

template <class Out>
std::unique_ptr<Kernel> qgemm_kernel(QGemmPlan plan) {
  ScratchPlan scratch;
  const size_t a_at = scratch.add(plan.a.scratch_bytes());
  const size_t b_at = scratch.add(plan.b.scratch_bytes());
  const size_t multipliers_at = scratch.add(plan.multipliers.scratch_bytes());
  return ref::make_kernel(
      [p = std::move(plan), a_at, b_at, multipliers_at](const KernelArgs& args) {
        const int16_t* a = p.a.data(args, scratch_at(args.scratch, a_at));
        const int16_t* b = p.b.data(args, scratch_at(args.scratch, b_at));
        const float* multiplier =
            p.multipliers.data(args, scratch_at(args.scratch, multipliers_at));
        const int32_t* c = p.has_c ? ref::in<int32_t>(args, kC) : nullptr;
        const int32_t zero_point = p.y ? p.y->zero_point(args, 0) : 0;
        Out* y = ref::out<Out>(args, 0);
        const int64_t cols = p.product.N;
        ref::matmul_centered(p.product, a, b, [&](int64_t, int64_t row, int64_t col, int64_t sum) {
          if (c) sum += c[row * p.c_row_stride + col * p.c_col_stride];
          // Exact in int64; the int32 accumulator wraps as ONNX Runtime's does (eq. (34)).
          const int32_t acc = wrap_to_int32(sum);
          if constexpr (std::is_same_v<Out, float>) {
            y[row * cols + col] = static_cast<float>(acc) * multiplier[col];
          } else {
            y[row * cols + col] = requantize<Out>(acc, multiplier[col], zero_point);
          }
        });
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qgemm(KernelContext& ctx) {
  expect_quant_type(ctx, kA, "A");
  expect_quant_type(ctx, kB, "B");
  const bool quantized = ctx.has_input(kYScale);
  check_qgemm_output_inputs(ctx.node, quantized, ctx.has_input(kYZeroPoint));
  const GemmAttrs attrs = gemm_attrs(ctx.node);
  const Shape& a = ctx.input(kA).shape;
  const Shape& b = ctx.input(kB).shape;
  if (a.size() != 2 || b.size() != 2) {
    ctx.fail(ErrorKind::kInvalidModel, "A and B must be 2-D, got {} and {}", shape_str(a),
             shape_str(b));
  }
  QGemmPlan p;
  p.product.M = a[attrs.trans_a ? 1 : 0];
  p.product.K = a[attrs.trans_a ? 0 : 1];
  p.product.N = b[attrs.trans_b ? 0 : 1];
  if (b[attrs.trans_b ? 1 : 0] != p.product.K) {
    ctx.fail(ErrorKind::kInvalidModel, "inner dimensions differ: A is {}, B is {}", shape_str(a),
             shape_str(b));
  }
  p.product.a_offsets = {0};
  p.product.b_offsets = {0};
  QuantParamSource a_params(ctx, kAScale, kAZeroPoint, ctx.input(kA).dtype);
  QuantParamSource b_params(ctx, kBScale, kBZeroPoint, ctx.input(kB).dtype);
  if (a_params.size() != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "a's scale and zero point must be scalars, got {} values",
             a_params.size());
  }
  if (b_params.size() != 1 && b_params.size() != p.product.N) {
    ctx.fail(ErrorKind::kInvalidModel,
             "b's scale and zero point have {} values, expected 1 or one per column ({})",
             b_params.size(), p.product.N);
  }
  // A centered as [M, K] and B as [N, K] (B transposed), whatever their stored layouts.
  p.a = CenteredOperand(ctx, kA, a_params,
                        CenterLayout{1, p.product.M, p.product.K, attrs.trans_a, {}});
  CenterLayout b_layout{1, p.product.N, p.product.K, !attrs.trans_b, {}};
  if (b_params.size() > 1) b_layout.zero_points = ParamIndexing{{0}, 1, 0};
  p.b = CenteredOperand(ctx, kB, b_params, std::move(b_layout));
  if (quantized) {
    expect_quant_type(ctx, kYZeroPoint, "y_zero_point");
    p.y = QuantParamSource(ctx, kYScale, kYZeroPoint, ctx.input(kYZeroPoint).dtype);
    if (p.y->size() != 1) {
      ctx.fail(ErrorKind::kInvalidModel, "y's scale and zero point must be scalars");
    }
  }
  p.multipliers = ChannelMultipliers(a_params, b_params, p.y, p.product.N, attrs.alpha);
  p.has_c = ctx.has_input(kC);
  if (p.has_c) {
    if (ctx.inputs[kC].dtype != DType::kInt32) {
      ctx.fail(ErrorKind::kInvalidModel, "input C is {}, expected int32",
               dtype_name(ctx.inputs[kC].dtype));
    }
    const Shape& c = ctx.inputs[kC].shape;
    const int64_t c_rows = c.size() == 2 ? c[0] : 1;
    const int64_t c_cols = c.empty() ? 1 : c.back();
    const bool fits = c.size() <= 2 && (c_rows == 1 || c_rows == p.product.M) &&
                      (c_cols == 1 || c_cols == p.product.N);
    if (!fits) {
      ctx.fail(ErrorKind::kInvalidModel, "C of shape {} cannot be broadcast to [{}, {}]",
               shape_str(c), p.product.M, p.product.N);
    }
    p.c_row_stride = c_rows == 1 ? 0 : c_cols;
    p.c_col_stride = c_cols == 1 ? 0 : 1;
  }
  if (!quantized) return qgemm_kernel<float>(std::move(p));
  return visit_quant_type(ctx.input(kYZeroPoint).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qgemm_kernel<Q>(std::move(p));
  });
}

// ---- QLinearGlobalAveragePool: X, x_scale, x_zero_point, y_scale, y_zero_point ----

bool channels_last(const Node& node) {
  const int64_t value = node.attr_int("channels_last", 0);
  if (value != 0 && value != 1) {
    fail_node(node, "attribute 'channels_last' must be 0 or 1, got {}", value);
  }
  return value == 1;
}

void infer_pool_params(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "X");
  infer_tensor_params(ctx, 0, 1, 2, "x");
  infer_tensor_params(ctx, 0, 3, 4, "y");
  ctx.set_output_type(0, ctx.input_type(0));
}

// [N, C, spatial...] from [N, spatial..., C] and back.
template <class S>
S to_channels_first(const S& shape) {
  S out = shape;
  if (shape.size() >= 3) {
    out[1] = shape.back();
    std::copy(shape.begin() + 1, shape.end() - 1, out.begin() + 2);
  }
  return out;
}
template <class S>
S to_channels_last(const S& shape) {
  S out = shape;
  if (shape.size() >= 3) {
    std::copy(shape.begin() + 2, shape.end(), out.begin() + 1);
    out.back() = shape[1];
  }
  return out;
}

// A global pool's output [N, C, 1...] (channels_last: [N, 1..., C]).
void infer_global_pool_shape(InferContext& ctx) {
  const bool last = channels_last(ctx.node());
  const SymbolicShape* x = ctx.input_shape(0);
  if (x == nullptr) return;
  check_window_input_rank(ctx.node(), "X", *x);
  SymbolicShape out(x->size(), Dim(1));
  out[0] = (*x)[0];
  out[last ? out.size() - 1 : 1] = last ? x->back() : (*x)[1];
  ctx.output(0).shape = std::move(out);
}

void infer_qlinear_global_average_pool(InferContext& ctx) {
  infer_pool_params(ctx);
  infer_global_pool_shape(ctx);
}

// QLinearGlobalAveragePool (Y of type Q), or with `y_params` absent the internal
// DequantizeGlobalAveragePool (Y float, eq. (152)).
template <class Q>
std::unique_ptr<Kernel> global_average_pool_kernel(int64_t batch, int64_t channels, int64_t image,
                                                   bool channels_last, QuantParamSource x_params,
                                                   std::optional<QuantParamSource> y_params) {
  return ref::make_kernel([=, x_params = std::move(x_params),
                           y_params = std::move(y_params)](const KernelArgs& args) {
    // Eq. (42): M = s_x / (s_y · n), as ONNX Runtime forms it; eq. (152): s_x / n.
    const float multiplier =
        y_params ? x_params.scale(args, 0) / (y_params->scale(args, 0) * static_cast<float>(image))
                 : x_params.scale(args, 0) / static_cast<float>(image);
    const int32_t x_zero_point = x_params.zero_point(args, 0);
    const int32_t y_zero_point = y_params ? y_params->zero_point(args, 0) : 0;
    const Q* x = ref::in<Q>(args, 0);
    Q* y = y_params ? ref::out<Q>(args, 0) : nullptr;
    float* y_float = y_params ? nullptr : ref::out<float>(args, 0);
    // Channels first: a channel's values are contiguous; channels last: `channels` apart.
    const int64_t value_step = channels_last ? channels : 1;
    const int64_t channel_step = channels_last ? 1 : image;
    for (int64_t n = 0; n < batch; ++n) {
      const Q* x_image = x + n * channels * image;
      for (int64_t channel = 0; channel < channels; ++channel) {
        const Q* values = x_image + channel * channel_step;
        // |Σ (x − z_x)| <= 255 · n < 2^44: exact in int64; it wraps to int32 as in ONNX
        // Runtime.
        int64_t sum = 0;
        for (int64_t i = 0; i < image; ++i) sum += values[i * value_step] - x_zero_point;
        const int32_t acc = wrap_to_int32(sum);
        if (y) {
          y[n * channels + channel] = requantize<Q>(acc, multiplier, y_zero_point);
        } else {
          y_float[n * channels + channel] = static_cast<float>(acc) * multiplier;
        }
      }
    }
  });
}

std::unique_ptr<Kernel> ref_qlinear_global_average_pool(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "X");
  const bool last = channels_last(ctx.node);
  const Shape& x = ctx.input(0).shape;
  check_window_input_rank(ctx.node, "X", symbolic(x));
  const Shape nchw = last ? to_channels_first(x) : x;
  const int64_t image = shape_numel(std::span(nchw).subspan(2));
  if (image == 0) {
    ctx.fail(ErrorKind::kInvalidModel, "X of shape {} has no spatial elements to average",
             shape_str(x));
  }
  QuantParamSource x_params = tensor_params(ctx, 1, 2, ctx.input(0).dtype, "x");
  std::optional<QuantParamSource> y_params;
  if (ctx.node.domain == kMsDomain) y_params = tensor_params(ctx, 3, 4, ctx.input(0).dtype, "y");
  return visit_quant_type(ctx.input(0).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return global_average_pool_kernel<Q>(nchw[0], nchw[1], image, last, std::move(x_params),
                                         std::move(y_params));
  });
}

// ---- DequantizeGlobalAveragePool (internal): X, x_scale, x_zero_point; channels_last. A float
// GlobalAveragePool of a DequantizeLinear, on the 8-bit data (eq. (152)). ----

void infer_dequantize_global_average_pool(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "X");
  infer_tensor_params(ctx, 0, 1, 2, "x");
  ctx.set_output_type(0, DType::kFloat32);
  infer_global_pool_shape(ctx);
}

// ---- QLinearAveragePool: X, x_scale, x_zero_point, y_scale, y_zero_point; AveragePool's
// attributes and channels_last. Eq. (43): y = quantize(AveragePool(dequantize(x))). ----

void infer_qlinear_average_pool(InferContext& ctx) {
  infer_pool_params(ctx);
  const bool last = channels_last(ctx.node());
  const SymbolicShape* x_shape = ctx.input_shape(0);
  if (x_shape == nullptr) return;
  check_window_input_rank(ctx.node(), "X", *x_shape);
  const SymbolicShape x = last ? to_channels_first(*x_shape) : *x_shape;
  const std::vector<int64_t> kernel = ctx.node().require_ints("kernel_shape");
  if (kernel.size() != x.size() - 2) {
    ctx.fail("attribute 'kernel_shape' has {} values, expected {} (one per spatial dim of X)",
             kernel.size(), x.size() - 2);
  }
  const std::vector<int64_t> in = spatial_sizes(x);
  const WindowParams p = parse_window(ctx.node(), in, kernel);
  check_window_fits(ctx.node(), p, in);
  const SymbolicShape out = window_output_shape(p, x, x[1]);
  ctx.output(0).shape = last ? to_channels_last(out) : out;
}

template <class Q>
std::unique_ptr<Kernel> average_pool_kernel(ref::PoolGeometry g, int64_t batch, int64_t channels,
                                            bool channels_last, bool count_include_pad,
                                            QuantParamSource x_params, QuantParamSource y_params) {
  const int64_t in_plane = shape_numel(g.in_size), out_plane = shape_numel(g.out_size);
  ScratchPlan scratch;
  const size_t x_at = scratch.add(static_cast<size_t>(g.planes * in_plane) * sizeof(float));
  const size_t y_at = scratch.add(static_cast<size_t>(g.planes * out_plane) * sizeof(float));
  return ref::make_kernel(
      [=, g = std::move(g), x_params = std::move(x_params),
       y_params = std::move(y_params)](const KernelArgs& args) {
        const float x_scale = x_params.scale(args, 0), y_scale = y_params.scale(args, 0);
        const int32_t x_zero_point = x_params.zero_point(args, 0);
        const int32_t y_zero_point = y_params.zero_point(args, 0);
        float* x_float = static_cast<float*>(scratch_at(args.scratch, x_at));
        float* y_float = static_cast<float*>(scratch_at(args.scratch, y_at));
        // Element (n, c, i) of a channels-first plane of `plane` elements, in either layout.
        auto offset = [&](int64_t n, int64_t c, int64_t i, int64_t plane) {
          return channels_last ? (n * plane + i) * channels + c : (n * channels + c) * plane + i;
        };
        const Q* x = ref::in<Q>(args, 0);
        for (int64_t n = 0; n < batch; ++n) {
          for (int64_t c = 0; c < channels; ++c) {
            for (int64_t i = 0; i < in_plane; ++i) {
              x_float[(n * channels + c) * in_plane + i] =
                  dequantize(x[offset(n, c, i, in_plane)], x_scale, x_zero_point);
            }
          }
        }
        ref::average_pool<float>(g, x_float, y_float, count_include_pad);
        Q* y = ref::out<Q>(args, 0);
        for (int64_t n = 0; n < batch; ++n) {
          for (int64_t c = 0; c < channels; ++c) {
            for (int64_t i = 0; i < out_plane; ++i) {
              y[offset(n, c, i, out_plane)] =
                  quantize<Q>(y_float[(n * channels + c) * out_plane + i], y_scale, y_zero_point);
            }
          }
        }
      },
      scratch.total());
}

std::unique_ptr<Kernel> ref_qlinear_average_pool(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "X");
  const bool last = channels_last(ctx.node);
  const Shape& x = ctx.input(0).shape;
  check_window_input_rank(ctx.node, "X", symbolic(x));
  const Shape nchw = last ? to_channels_first(x) : x;
  ref::PoolGeometry g = pool_geometry(ctx.node, nchw);
  Shape out{nchw[0], nchw[1]};
  out.insert(out.end(), g.out_size.begin(), g.out_size.end());
  if ((last ? to_channels_last(out) : out) != ctx.outputs.at(0).shape) {
    ctx.fail(ErrorKind::kInternal, "output planned as {} but the pool computes {}",
             shape_str(ctx.outputs.at(0).shape), shape_str(last ? to_channels_last(out) : out));
  }
  const bool count_include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  QuantParamSource x_params = tensor_params(ctx, 1, 2, ctx.input(0).dtype, "x");
  QuantParamSource y_params = tensor_params(ctx, 3, 4, ctx.input(0).dtype, "y");
  return visit_quant_type(ctx.input(0).dtype, [&](auto q) {
    using Q = typename decltype(q)::type;
    return average_pool_kernel<Q>(std::move(g), nchw[0], nchw[1], last, count_include_pad,
                                  std::move(x_params), std::move(y_params));
  });
}

}  // namespace

void register_ms_gemm_pool_ops(OpRegistry& r) {
  r.add({kMsDomain, "QGemm", 1, infer_qgemm, ref_qgemm, {}});
  r.add({kMsDomain,
         "QLinearGlobalAveragePool",
         1,
         infer_qlinear_global_average_pool,
         ref_qlinear_global_average_pool,
         {}});
  r.add({kInternalDomain,
         "DequantizeGlobalAveragePool",
         1,
         infer_dequantize_global_average_pool,
         ref_qlinear_global_average_pool,
         {}});
  r.add({kMsDomain,
         "QLinearAveragePool",
         1,
         infer_qlinear_average_pool,
         ref_qlinear_average_pool,
         {}});
}

}  // namespace quench

// Element-wise quantized ops of ONNX Runtime's com.microsoft domain (opset 1), as its quantizer
// emits them: QLinearAdd and QLinearMul (numpy broadcasting), QLinearSigmoid and QLinearLeakyRelu
// (256-entry tables), QLinearConcat and QLinearSoftmax. Every parameter is per tensor.
// docs/quantization.md, eqs. (31), (32), (35), (36), (38),
// (40), (41).
#include <cmath>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/domains.h"
#include "ops/elementwise.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

// ---- QLinearAdd, QLinearMul: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale,
// C_zero_point ----

void infer_qlinear_binary(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "A");
  check_same_type(ctx, 0, 3, "B");
  infer_tensor_params(ctx, 0, 1, 2, "A");
  infer_tensor_params(ctx, 3, 4, 5, "B");
  infer_tensor_params(ctx, 0, 6, 7, "C");
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* a = ctx.input_shape(0);
  const SymbolicShape* b = ctx.input_shape(3);
  if (!a || !b) return;
  auto out = broadcast_shapes(*a, *b);
  if (!out)
    ctx.fail("A of shape {} and B of shape {} cannot be broadcast", shape_str(*a), shape_str(*b));
  ctx.output(0).shape = std::move(out);
}

enum class BinaryOp { kAdd, kMul };

template <BinaryOp kOp, class Q>
std::unique_ptr<Kernel> qlinear_binary_kernel(ref::elementwise::BroadcastRuns plan,
                                              std::array<QuantParamSource, 3> p) {
  return ref::make_kernel([plan = std::move(plan), p = std::move(p)](const KernelArgs& args) {
    const float a_scale = p[0].scale(args, 0), b_scale = p[1].scale(args, 0);
    const float c_scale = p[2].scale(args, 0);
    const int32_t a_zero_point = p[0].zero_point(args, 0), b_zero_point = p[1].zero_point(args, 0);
    const int32_t c_zero_point = p[2].zero_point(args, 0);
    const Q* a = ref::in<Q>(args, 0);
    const Q* b = ref::in<Q>(args, 3);
    Q* c = ref::out<Q>(args, 0);
    if constexpr (kOp == BinaryOp::kAdd) {
      const float a_ratio = a_scale / c_scale, b_ratio = b_scale / c_scale;
      ref::elementwise::binary_loop(plan, a, b, c, [&](Q x, Q y) {
        return add_requantize<Q>(x - a_zero_point, a_ratio, y - b_zero_point, b_ratio,
                                 c_zero_point);
      });
    } else {
      const float multiplier = requant_multiplier(a_scale, b_scale, c_scale);
      ref::elementwise::binary_loop(plan, a, b, c, [&](Q x, Q y) {
        // |(x − z_a)(y − z_b)| <= 255 · 255: exact in int32.
        return requantize<Q>((x - a_zero_point) * (y - b_zero_point), multiplier, c_zero_point);
      });
    }
  });
}

template <BinaryOp kOp>
std::unique_ptr<Kernel> ref_qlinear_binary(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "A");
  expect_same_type(ctx, 0, 3, "B");
  const DType type = ctx.input(0).dtype;
  std::array<QuantParamSource, 3> params{tensor_params(ctx, 1, 2, type, "A"),
                                         tensor_params(ctx, 4, 5, type, "B"),
                                         tensor_params(ctx, 6, 7, type, "C")};
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(3).shape;
  const auto out = broadcast_shapes(a, b);
  if (!out || *out != ctx.outputs.at(0).shape) {
    ctx.fail(ErrorKind::kInvalidModel, "A of shape {} and B of shape {} do not broadcast to {}",
             shape_str(a), shape_str(b), shape_str(ctx.outputs.at(0).shape));
  }
  auto plan = ref::elementwise::plan_broadcast({a, b}, *out);
  return visit_quant_type(type, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_binary_kernel<kOp, Q>(std::move(plan), std::move(params));
  });
}

// ---- QLinearSigmoid, QLinearLeakyRelu: X, X_scale, X_zero_point, Y_scale, Y_zero_point ----

void infer_qlinear_unary(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "X");
  infer_tensor_params(ctx, 0, 1, 2, "X");
  infer_tensor_params(ctx, 0, 3, 4, "Y");
  ctx.output(0) = ValueInfo{ctx.input_type(0), ctx.input(0).shape, ""};
}

// A table-driven unary op: the table is filled once when the parameters are constant, else into
// scratch at every run.
template <class Q, class F>
std::unique_ptr<Kernel> qlinear_table_kernel(int64_t count, QuantParamSource x_params,
                                             QuantParamSource y_params, F f) {
  std::vector<Q> prepared;
  if (x_params.known() && y_params.known()) {
    prepared.resize(256);
    const KernelArgs none{};
    fill_table<Q>(x_params.scale(none, 0), x_params.zero_point(none, 0), y_params.scale(none, 0),
                  y_params.zero_point(none, 0), f, prepared.data());
  }
  const size_t scratch = prepared.empty() ? 256 * sizeof(Q) : 0;
  return ref::make_kernel(
      [count, x_params = std::move(x_params), y_params = std::move(y_params), f,
       prepared = std::move(prepared)](const KernelArgs& args) {
        const Q* table = prepared.data();
        if (prepared.empty()) {
          Q* filled = static_cast<Q*>(args.scratch);
          fill_table<Q>(x_params.scale(args, 0), x_params.zero_point(args, 0),
                        y_params.scale(args, 0), y_params.zero_point(args, 0), f, filled);
          table = filled;
        }
        const Q* x = ref::in<Q>(args, 0);
        Q* y = ref::out<Q>(args, 0);
        for (int64_t i = 0; i < count; ++i) y[i] = table[x[i] - kQuantMin<Q>];
      },
      scratch, 0);
}

template <class F>
std::unique_ptr<Kernel> ref_qlinear_unary(KernelContext& ctx, F f) {
  expect_quant_type(ctx, 0, "X");
  const DType type = ctx.input(0).dtype;
  QuantParamSource x = tensor_params(ctx, 1, 2, type, "X");
  QuantParamSource y = tensor_params(ctx, 3, 4, type, "Y");
  const int64_t count = ctx.input(0).numel();
  return visit_quant_type(type, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_table_kernel<Q>(count, std::move(x), std::move(y), f);
  });
}

std::unique_ptr<Kernel> ref_qlinear_sigmoid(KernelContext& ctx) {
  return ref_qlinear_unary(ctx, [](float x) { return 1.f / (1.f + std::exp(-x)); });
}

std::unique_ptr<Kernel> ref_qlinear_leaky_relu(KernelContext& ctx) {
  const float alpha = ctx.node.attr_float("alpha", 0.01f);
  return ref_qlinear_unary(ctx, [alpha](float x) { return x >= 0.f ? x : alpha * x; });
}

// ---- QLinearConcat: Y_scale, Y_zero_point, then (X, X_scale, X_zero_point) per input ----

size_t concat_input_count(const Node& node) {
  const size_t n = node.inputs.size();
  if (n < 5 || (n - 2) % 3 != 0) {
    fail_node(node,
              "has {} inputs, expected Y_scale, Y_zero_point and one or more (X, X_scale, "
              "X_zero_point) triples",
              n);
  }
  return (n - 2) / 3;
}

void infer_qlinear_concat(InferContext& ctx) {
  const size_t count = concat_input_count(ctx.node());
  check_quant_input_type(ctx, 1, "Y_zero_point");
  check_quant_param_shapes(ctx.node(), "Y", ctx.input_shape(0), ctx.input_shape(1), nullptr);
  const DType type = ctx.input_type(1);
  ctx.set_output_type(0, type);
  std::optional<SymbolicShape> out;
  int64_t axis = 0;
  bool axis_known = true;
  int64_t axis_sum = 0;
  for (size_t i = 0; i < count; ++i) {
    const size_t data = 2 + 3 * i;
    check_quant_input_type(ctx, data, "X");
    const DType t = ctx.input_type(data);
    if (t != DType::kUndefined && type != DType::kUndefined && t != type) {
      ctx.fail("input {} is {} but Y_zero_point is {}", data, dtype_name(t), dtype_name(type));
    }
    infer_tensor_params(ctx, data, data + 1, data + 2, "X");
    const SymbolicShape* s = ctx.input_shape(data);
    if (s == nullptr) {
      axis_known = false;
      continue;
    }
    if (!out) {
      axis = normalize_axis(ctx.node().require_int("axis"), s->size(), ctx.node());
      out = *s;
    } else if (s->size() != out->size()) {
      ctx.fail("input {} has shape {}, of another rank than {}", data, shape_str(*s),
               shape_str(*out));
    }
    for (size_t d = 0; d < s->size(); ++d) {
      const Dim& got = (*s)[d];
      if (static_cast<int64_t>(d) == axis) {
        axis_known = axis_known && got.known();
        axis_sum += got.known() ? got.value : 0;
      } else if ((*out)[d].known() && got.known() && (*out)[d].value != got.value) {
        ctx.fail("input {} has shape {}; dimension {} differs from {}", data, shape_str(*s), d,
                 shape_str(*out));
      } else if (!(*out)[d].known()) {
        (*out)[d] = got;
      }
    }
  }
  if (!out) return;
  (*out)[axis] = axis_known ? Dim(axis_sum) : Dim();
  ctx.output(0).shape = std::move(out);
}

template <class Q>
std::unique_ptr<Kernel> qlinear_concat_kernel(int64_t outer, std::vector<int64_t> blocks,
                                              std::vector<QuantParamSource> params,
                                              QuantParamSource y) {
  // One requantization table per input (eq. (40) with f the identity): prepared when the
  // parameters are constant, else filled into scratch (256 values per input) at every run.
  std::vector<std::vector<Q>> prepared(blocks.size());
  const KernelArgs none{};
  auto identity = [](float v) { return v; };
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (!params[i].known() || !y.known()) continue;
    prepared[i].resize(256);
    fill_table<Q>(params[i].scale(none, 0), params[i].zero_point(none, 0), y.scale(none, 0),
                  y.zero_point(none, 0), identity, prepared[i].data());
  }
  const size_t scratch = blocks.size() * 256 * sizeof(Q);
  return ref::make_kernel(
      [outer, blocks = std::move(blocks), params = std::move(params), y = std::move(y),
       prepared = std::move(prepared), identity](const KernelArgs& args) {
        Q* scratch_tables = static_cast<Q*>(args.scratch);
        for (size_t i = 0; i < blocks.size(); ++i) {
          if (!prepared[i].empty()) continue;
          fill_table<Q>(params[i].scale(args, 0), params[i].zero_point(args, 0), y.scale(args, 0),
                        y.zero_point(args, 0), identity, scratch_tables + 256 * i);
        }
        Q* out = ref::out<Q>(args, 0);
        for (int64_t o = 0; o < outer; ++o) {
          for (size_t i = 0; i < blocks.size(); ++i) {
            const Q* table = prepared[i].empty() ? scratch_tables + 256 * i : prepared[i].data();
            const Q* x = ref::in<Q>(args, 2 + 3 * i) + o * blocks[i];
            for (int64_t j = 0; j < blocks[i]; ++j) *out++ = table[x[j] - kQuantMin<Q>];
          }
        }
      },
      scratch);
}

std::unique_ptr<Kernel> ref_qlinear_concat(KernelContext& ctx) {
  const size_t count = concat_input_count(ctx.node);
  expect_quant_type(ctx, 1, "Y_zero_point");
  const DType type = ctx.input(1).dtype;
  QuantParamSource y = tensor_params(ctx, 0, 1, type, "Y");
  const Shape& out = ctx.outputs.at(0).shape;
  const int64_t axis = normalize_axis(ctx.node.require_int("axis"), out.size(), ctx.node);
  const int64_t outer = shape_numel(std::span(out).first(axis));
  std::vector<int64_t> blocks;
  std::vector<QuantParamSource> params;
  for (size_t i = 0; i < count; ++i) {
    const size_t data = 2 + 3 * i;
    if (ctx.input(data).dtype != type) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} is {} but Y_zero_point is {}", data,
               dtype_name(ctx.input(data).dtype), dtype_name(type));
    }
    const Shape& in = ctx.input(data).shape;
    if (in.size() != out.size()) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} has shape {}, of another rank than {}", data,
               shape_str(in), shape_str(out));
    }
    blocks.push_back(shape_numel(std::span(in).subspan(axis)));
    params.push_back(tensor_params(ctx, data + 1, data + 2, type, "X"));
  }
  return visit_quant_type(type, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_concat_kernel<Q>(outer, std::move(blocks), std::move(params), std::move(y));
  });
}

// ---- QLinearSoftmax: X, X_scale, x_zero_point, y_scale, y_zero_point ----

// The softmax axis: the `axis` attribute (default 1 before the `opset` attribute's 13, -1 from
// 13), normalized for `rank`.
int64_t softmax_axis(const Node& node, int64_t rank) {
  const int64_t opset = node.require_int("opset");
  return normalize_axis(node.attr_int("axis", opset < 13 ? 1 : -1), rank, node);
}

void infer_qlinear_softmax(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "X");
  infer_tensor_params(ctx, 0, 1, 2, "X");
  infer_tensor_params(ctx, 0, 3, 4, "Y");
  ctx.output(0) = ValueInfo{ctx.input_type(0), ctx.input(0).shape, ""};
  if (const SymbolicShape* x = ctx.input_shape(0)) softmax_axis(ctx.node(), x->size());
}

// Softmax over `reduced` elements `stride` apart, for `outer` × `stride` groups (opset < 13
// coerces to 2-D, so the reduced elements are contiguous: stride 1). Eq. (41):
// p_i = exp(s_x·(x_i − x_max)) / Σ_j exp(s_x·(x_j − x_max)), y_i = quantize(p_i, s_y, z_y).
struct SoftmaxLoop {
  int64_t outer = 1, reduced = 1, stride = 1;
};

template <class Q>
std::unique_ptr<Kernel> qlinear_softmax_kernel(SoftmaxLoop loop, QuantParamSource x_params,
                                               QuantParamSource y_params) {
  return ref::make_kernel([loop, x_params = std::move(x_params),
                           y_params = std::move(y_params)](const KernelArgs& args) {
    const float x_scale = x_params.scale(args, 0);
    const float y_scale = y_params.scale(args, 0);
    const int32_t y_zero_point = y_params.zero_point(args, 0);
    const Q* x = ref::in<Q>(args, 0);
    Q* y = ref::out<Q>(args, 0);
    for (int64_t o = 0; o < loop.outer; ++o) {
      for (int64_t s = 0; s < loop.stride; ++s) {
        const int64_t base = o * loop.reduced * loop.stride + s;
        int32_t x_max = kQuantMin<Q>;
        for (int64_t i = 0; i < loop.reduced; ++i)
          x_max = std::max<int32_t>(x_max, x[base + i * loop.stride]);
        // x's zero point cancels in x_i − x_max.
        double sum = 0;
        for (int64_t i = 0; i < loop.reduced; ++i) {
          sum += std::exp(x_scale * static_cast<float>(x[base + i * loop.stride] - x_max));
        }
        for (int64_t i = 0; i < loop.reduced; ++i) {
          const float e = std::exp(x_scale * static_cast<float>(x[base + i * loop.stride] - x_max));
          y[base + i * loop.stride] =
              quantize<Q>(static_cast<float>(e / sum), y_scale, y_zero_point);
        }
      }
    }
  });
}

std::unique_ptr<Kernel> ref_qlinear_softmax(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "X");
  const DType type = ctx.input(0).dtype;
  QuantParamSource x = tensor_params(ctx, 1, 2, type, "X");
  QuantParamSource y = tensor_params(ctx, 3, 4, type, "Y");
  const Shape& shape = ctx.input(0).shape;
  const int64_t axis = softmax_axis(ctx.node, shape.size());
  const std::span<const int64_t> dims(shape);
  SoftmaxLoop loop;
  loop.outer = shape_numel(dims.first(axis));
  if (ctx.node.require_int("opset") < 13) {
    loop.reduced = shape_numel(dims.subspan(axis));
  } else {
    loop.reduced = shape[axis];
    loop.stride = shape_numel(dims.subspan(axis + 1));
  }
  return visit_quant_type(type, [&](auto q) {
    using Q = typename decltype(q)::type;
    return qlinear_softmax_kernel<Q>(loop, std::move(x), std::move(y));
  });
}

}  // namespace

void register_ms_elementwise_ops(OpRegistry& r) {
  r.add({kMsDomain, "QLinearAdd", 1, infer_qlinear_binary, ref_qlinear_binary<BinaryOp::kAdd>, {}});
  r.add({kMsDomain, "QLinearMul", 1, infer_qlinear_binary, ref_qlinear_binary<BinaryOp::kMul>, {}});
  r.add({kMsDomain, "QLinearSigmoid", 1, infer_qlinear_unary, ref_qlinear_sigmoid, {}});
  r.add({kMsDomain, "QLinearLeakyRelu", 1, infer_qlinear_unary, ref_qlinear_leaky_relu, {}});
  r.add({kMsDomain, "QLinearConcat", 1, infer_qlinear_concat, ref_qlinear_concat, {}});
  r.add({kMsDomain, "QLinearSoftmax", 1, infer_qlinear_softmax, ref_qlinear_softmax, {}});
}

}  // namespace quench

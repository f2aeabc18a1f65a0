// The matchers of the QDQ-lowering pass, one per op family, and the helpers they share (see
// lower_qdq_internal.h). A matcher checks everything before it creates an initializer, so a node
// that stays in float leaves the graph as it was.
#include <cmath>
#include <limits>
#include <set>

#include "core/requantize.h"
#include "ir/shape_util.h"
#include "ops/fused.h"
#include "ops/op_registry.h"
#include "ops/quantized/integer_products.h"
#include "passes/lower_qdq_internal.h"

namespace quench::qdq_lowering {

bool is_op(const Node& node, const char* op_type) {
  return node.domain.empty() && node.op_type == op_type;
}

Match stays_float(std::string reason) { return Match{std::nullopt, std::move(reason)}; }

// The unit's integer node, named after the float op, writing the Q's output.
Unit make_unit(const Node& op, int n, const Tail& tail, std::string op_type, std::string domain) {
  Unit u;
  u.float_op = op.op_type;
  u.op_node = n;
  u.replaced = {n, tail.output.node};
  if (tail.activation >= 0) u.replaced.push_back(tail.activation);
  u.node.name = op.name.empty() ? tail.output.value : op.name;
  u.node.op_type = std::move(op_type);
  u.node.domain = std::move(domain);
  u.node.outputs = {tail.output.value};
  u.output = tail.output;
  u.clamp = tail.clamp;
  u.has_activation = tail.activation >= 0;
  return u;
}

Unit make_float_output_unit(const Node& op, int n, std::string op_type, std::string domain) {
  Unit u;
  u.float_op = op.op_type;
  u.op_node = n;
  u.replaced = {n};
  u.node.name = op.name.empty() ? op.outputs[0] : op.name;
  u.node.op_type = std::move(op_type);
  u.node.domain = std::move(domain);
  u.node.outputs = {op.outputs[0]};
  return u;
}

// Input `i` of `node` as an 8-bit per-tensor quantized activation.
std::optional<QTensor> activation_input(const Context& ctx, const Node& node, size_t i,
                                        std::string& why) {
  auto t = ctx.dequantized(node.input(i), why);
  if (!t) return std::nullopt;
  if (!is_quant_type(t->params.type)) {
    why = fmt::format("input '{}' is quantized to {}", node.input(i), dtype_name(t->params.type));
    return std::nullopt;
  }
  if (!t->per_tensor()) {
    why = fmt::format("input '{}' is quantized per axis", node.input(i));
    return std::nullopt;
  }
  return t;
}

std::optional<UnaryIo> unary_io(Context& ctx, const Node& op, std::string& why) {
  auto x = activation_input(ctx, op, 0, why);
  if (!x) return std::nullopt;
  auto tail = ctx.tail(op.outputs[0], false, why);
  if (!tail) return std::nullopt;
  if (x->params.type != tail->output.params.type) {
    why = fmt::format("input {} and output {} differ in type", dtype_name(x->params.type),
                      dtype_name(tail->output.params.type));
    return std::nullopt;
  }
  return UnaryIo{std::move(*x), std::move(*tail)};
}

std::vector<std::string> binary_qlinear_inputs(Context& ctx, const QTensor& a, const QTensor& b,
                                               const Tail& tail) {
  return {a.value,
          a.scale,
          ctx.zero_point_of(a),
          b.value,
          b.scale,
          ctx.zero_point_of(b),
          tail.output.scale,
          ctx.zero_point_of(tail.output)};
}

namespace {

// A constant 8-bit weight behind a DequantizeLinear; per tensor or per index along `axis`.
std::optional<QTensor> weight_input(const Context& ctx, const Node& node, size_t i, int64_t axis,
                                    std::string& why) {
  auto w = ctx.dequantized(node.input(i), why);
  if (!w) return std::nullopt;
  if (!ctx.graph.is_initializer(w->value)) {
    why = "weights not constant";
    return std::nullopt;
  }
  if (!is_quant_type(w->params.type)) {
    why = fmt::format("weights quantized to {}", dtype_name(w->params.type));
    return std::nullopt;
  }
  if (w->params.per_axis() && w->params.axis != axis) {
    why = fmt::format("weights quantized along axis {}, expected {}", w->params.axis, axis);
    return std::nullopt;
  }
  return w;
}

// The int32 bias of a unit whose accumulator has scales `accumulator` (s_a·s_b[c]), of
// `channels` elements ([channels] or [1, channels]); "" with `why` otherwise. An int32 bias behind
// a DequantizeLinear with these scales and zero point 0 is used as is. Any other constant bias --
// float, or dequantized with other parameters (exporters share one bias initializer between
// convolutions whose accumulators differ) -- is requantized to the accumulator's scales
// (eq. (131)), off by at most half an accumulator step.
std::string int_bias(Context& ctx, const std::string& value, const std::vector<double>& accumulator,
                     std::string& why) {
  const Tensor* q = ctx.graph.initializer(value);
  std::optional<QTensor> b;
  if (q == nullptr || q->dtype() != DType::kFloat32) {
    b = ctx.dequantized(value, why);
    q = b ? ctx.graph.initializer(b->value) : nullptr;
    if (q == nullptr || !is_quant_type(b->params.type, true)) {
      why = "bias is not constant (nor a constant behind a DequantizeLinear)";
      return "";
    }
  }
  const int64_t channels = static_cast<int64_t>(accumulator.size());
  const bool row = q->numel() == channels && (q->rank() == 1 || (q->rank() == 2 && q->dim(0) == 1));
  if (!row) {
    why = fmt::format("bias has shape {}, expected [{}]", shape_str(q->shape()), channels);
    return "";
  }
  if (b && b->params.size() != 1 && static_cast<int64_t>(b->params.size()) != channels) {
    why = fmt::format("bias has {} scales for {} channels", b->params.size(), channels);
    return "";
  }
  for (int64_t c = 0; c < channels; ++c) {
    if (!(accumulator[c] > 0.0) || !std::isfinite(accumulator[c])) {
      why = fmt::format("the accumulator's scale is {} (channel {})", accumulator[c], c);
      return "";
    }
  }
  // The bias as real numbers, and whether it is already an int32 at the accumulator's scales.
  std::vector<double> real(static_cast<size_t>(channels));
  bool as_is = b && b->params.type == DType::kInt32;
  const std::vector<double> values = q->to_double_vector();
  for (int64_t c = 0; c < channels; ++c) {
    if (!b) {
      real[c] = values[c];
      continue;
    }
    const int64_t index = b->params.size() == 1 ? 0 : c;
    const double scale = b->params.scale(index);
    const int32_t zero_point = b->params.zero_point(index);
    real[c] = (values[c] - zero_point) * scale;
    as_is = as_is && zero_point == 0 &&
            std::abs(scale - accumulator[c]) <= kBiasScaleTolerance * accumulator[c];
  }
  if (as_is) return b->value;
  std::vector<int32_t> requantized(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const double v = std::nearbyint(real[c] / accumulator[c]);
    if (!std::isfinite(v) || std::abs(v) > std::numeric_limits<int32_t>::max()) {
      why = fmt::format("bias {} (channel {}) does not fit an int32 at the accumulator's scale {}",
                        real[c], c, accumulator[c]);
      return "";
    }
    requantized[c] = static_cast<int32_t>(v);
  }
  return ctx.add_initializer(value + "_requantized", Tensor::from_vector({channels}, requantized));
}

// One zero point for every channel of a per-axis quantization ("" if they differ).
bool one_zero_point(const QuantParams& p) {
  for (int64_t c = 1; c < p.size(); ++c) {
    if (p.zero_point(c) != p.zero_point(0)) return false;
  }
  return true;
}

// The Conv's input: per tensor, or -- for a depthwise convolution, where input channel c feeds
// only output channels c·m ... c·m + m - 1 -- per channel along axis 1 with one zero point.
std::optional<QTensor> conv_input(const Context& ctx, const Node& conv, int64_t groups,
                                  int64_t weight_in_channels, std::string& why) {
  auto x = ctx.dequantized(conv.input(0), why);
  if (!x) return std::nullopt;
  if (!is_quant_type(x->params.type)) {
    why = fmt::format("input '{}' is quantized to {}", conv.input(0), dtype_name(x->params.type));
    return std::nullopt;
  }
  if (x->per_tensor()) return x;
  const bool depthwise =
      weight_in_channels == 1 && x->params.axis == 1 && groups == x->params.size();
  if (!depthwise || !one_zero_point(x->params)) {
    why = fmt::format("input '{}' is quantized per axis{}", conv.input(0),
                      depthwise ? " with different zero points" : " (not into a depthwise conv)");
    return std::nullopt;
  }
  return x;
}

Match match_conv(Context& ctx, int n) {
  const Node& conv = ctx.graph.nodes[n];
  std::string why;
  auto w = weight_input(ctx, conv, 1, 0, why);
  if (!w) return stays_float(why);
  const Tensor& w_q = *ctx.graph.initializer(w->value);
  if (w_q.rank() < 3) return stays_float(fmt::format("weight of rank {}", w_q.rank()));
  const int64_t groups = conv.attr_int("group", 1);
  auto x = conv_input(ctx, conv, groups, w_q.dim(1), why);
  if (!x) return stays_float(why);
  // Eq. (133): the accumulator's real scale per output channel o, s_x[o / m]·s_w[o], with m the
  // output channels per group (per-channel s_x only for depthwise convolutions).
  const int64_t out_channels = w_q.dim(0);
  const int64_t per_group = std::max<int64_t>(1, out_channels / std::max<int64_t>(groups, 1));
  std::vector<double> accumulator(static_cast<size_t>(out_channels));
  for (int64_t o = 0; o < out_channels; ++o) {
    accumulator[o] = static_cast<double>(x->params.scale(x->per_tensor() ? 0 : o / per_group)) *
                     w->params.scale(o);
  }
  std::string bias;
  if (conv.has_input(2)) {
    bias = int_bias(ctx, conv.input(2), accumulator, why);
    if (bias.empty()) return stays_float(why);
  }
  auto tail = ctx.tail(conv.outputs[0], true, why, /*per_channel_output=*/true,
                       /*channel_bound=*/true, /*function=*/true);
  if (!tail) return stays_float(why);
  if (tail->function && !ctx.has_qfused_conv) {
    return stays_float(
        fmt::format("its {} needs QFusedConv, which is not registered", tail->function->name()));
  }
  const QuantParams& y = tail->output.params;
  const bool per_channel_y = !tail->output.per_tensor();
  if (!tail->channel_bounds.empty() &&
      (per_channel_y || static_cast<int64_t>(tail->channel_bounds.size()) != out_channels)) {
    return stays_float(fmt::format("a per-channel bound of {} values after {} output channels{}",
                                   tail->channel_bounds.size(), out_channels,
                                   per_channel_y ? " quantized per channel" : ""));
  }
  if (per_channel_y) {
    if (y.size() != out_channels || !one_zero_point(y)) {
      return stays_float(
          fmt::format("output quantized per channel with {}",
                      y.size() != out_channels ? "another extent" : "different zero points"));
    }
    // A clamp must be one the output's quantization already applies in every channel.
    if (tail->clamp) {
      const auto [q_min, q_max] = visit_quant_type(y.type, [](auto q) {
        using Q = typename decltype(q)::type;
        return std::pair<int32_t, int32_t>(kQuantMin<Q>, kQuantMax<Q>);
      });
      for (int64_t o = 0; o < out_channels; ++o) {
        if (tail->clamp->lo > dequantize(q_min, y.scale(o), y.zero_point(o)) ||
            tail->clamp->hi < dequantize(q_max, y.scale(o), y.zero_point(o))) {
          return stays_float(fmt::format(
              "output quantized per channel after a clamp its range does not apply (channel {})",
              o));
        }
      }
      tail->clamp.reset();
    }
  }
  Unit u = make_unit(conv, n, *tail, "QLinearConv", "");
  u.node.attributes = conv.attributes;
  if (tail->bound >= 0) u.replaced.push_back(tail->bound);
  if (!tail->channel_bounds.empty()) {
    // Eq. (50) per channel: quantize(min(r, b_c)) = min(quantize(r), quantize(b_c)).
    u.channel_max = visit_quant_type(y.type, [&](auto q) {
      using Q = typename decltype(q)::type;
      std::vector<Q> bounds(tail->channel_bounds.size());
      for (size_t c = 0; c < bounds.size(); ++c) {
        bounds[c] = quantize<Q>(tail->channel_bounds[c], y.scale(0), y.zero_point(0));
      }
      return Tensor::from_vector<Q>(tail->bound_shape, bounds);
    });
  }
  u.node.inputs = {x->value,
                   x->scale,
                   ctx.zero_point_of(*x),
                   w->value,
                   w->scale,
                   ctx.zero_point_of(*w),
                   tail->output.scale,
                   ctx.zero_point_of(tail->output)};
  if (!x->per_tensor() || per_channel_y) {
    // Eq. (133): x's and y's per-channel scales move into the weight's, x and y get scale 1 and
    // their one zero point; the integer sums and the bias are unchanged.
    std::vector<float> w_scales(static_cast<size_t>(out_channels));
    for (int64_t o = 0; o < out_channels; ++o) {
      const double x_scale = x->per_tensor() ? x->params.scale(0) : 1.0;
      w_scales[o] =
          static_cast<float>(accumulator[o] / x_scale / (per_channel_y ? y.scale(o) : 1.0));
    }
    auto one_scale = [&](const std::string& base) {
      return ctx.add_initializer(base + "_unit_scale", Tensor::scalar(1.f));
    };
    auto one_zero = [&](const QTensor& t) {
      return ctx.add_initializer(t.value + "_zero_point",
                                 visit_quant_type(t.params.type, [&](auto q) {
                                   using Q = typename decltype(q)::type;
                                   return Tensor::scalar(static_cast<Q>(t.params.zero_point(0)));
                                 }));
    };
    if (!x->per_tensor()) {
      u.node.inputs[0 + 1] = one_scale(x->value);
      u.node.inputs[2] = one_zero(*x);
    }
    u.node.inputs[4] = ctx.add_initializer(w->value + "_folded_scale",
                                           Tensor::from_vector({out_channels}, w_scales));
    u.node.inputs[5] = ctx.add_initializer(
        w->value + "_folded_zero_point", visit_quant_type(w->params.type, [&](auto q) {
          using Q = typename decltype(q)::type;
          std::vector<Q> zeros(static_cast<size_t>(out_channels));
          for (int64_t o = 0; o < out_channels; ++o) {
            zeros[o] = static_cast<Q>(w->params.zero_point(o));
          }
          return Tensor::from_vector({out_channels}, zeros);
        }));
    if (per_channel_y) {
      u.node.inputs[6] = one_scale(tail->output.value);
      u.node.inputs[7] = one_zero(tail->output);
      u.output_scales_folded = true;
    }
  }
  if (!bias.empty()) u.node.inputs.push_back(bias);
  if (tail->function) {
    // Eq. (150): the activation on the real result, in the convolution's epilogue; with y's
    // per-channel scales folded into the weights, the real value of one output step per channel.
    u.node.op_type = "QFusedConv";
    u.node.domain = kInternalDomain;
    u.float_op = "Conv+" + tail->function->name();
    tail->function->to_attributes(u.node);
    if (per_channel_y) u.node.set_attr("activation_scales", y.scales);
  }
  return Match{std::move(u), ""};
}

// s_a · s_b[c] for the `cols` columns of A · B (A per tensor): the scales of the int32 sums.
std::vector<double> accumulator_scales(const QTensor& a, const QTensor& b, int64_t cols) {
  std::vector<double> scales(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) {
    scales[c] = static_cast<double>(a.params.scale(0)) * b.params.scale(b.per_tensor() ? 0 : c);
  }
  return scales;
}

// A MatMul of a per-tensor activation by a constant 2-D weight whose result is not quantized
// (NNCF's linear layers: DQ -> MatMul -> Add(bias) -> float ops), with the Add of a constant row
// when it alone reads the result: com.microsoft QGemm without y_scale (eq. (39)), the bias as its
// int32 C (eq. (131)), on A's rows as a matrix -- a Reshape of the 8-bit A before it and of the
// float result after it when A has more than two dims (eq. (132): reshapes move data only).
Match float_output_matmul(Context& ctx, const Node& matmul, int n, const QTensor& a,
                          const QTensor& b) {
  const Tensor* b_q = ctx.graph.initializer(b.value);
  const auto a_shape = ctx.shape_of(a.value);
  if (b_q == nullptr || b_q->rank() != 2 || !a_shape || a_shape->size() < 2) {
    return stays_float(
        "a float result is lowered for a constant 2-D B and an A of known shape only");
  }
  const int64_t cols = b_q->dim(1);
  const std::vector<double> accumulator = accumulator_scales(a, b, cols);
  // The Add of a constant row [cols] that alone reads the product becomes the int32 bias.
  std::string bias, output = matmul.outputs[0];
  std::vector<int> replaced = {n};
  if (!ctx.index.is_graph_output(output) && ctx.index.consumers(output).size() == 1) {
    const int add = ctx.index.consumers(output)[0];
    const Node& node = ctx.graph.nodes[add];
    const std::string& other = node.input(node.input(0) == output ? 1 : 0);
    const Tensor* row = ctx.graph.initializer(other);
    std::string bias_why;
    if (is_op(node, "Add") && node.inputs.size() == 2 && row != nullptr &&
        row->dtype() == DType::kFloat32 && row->rank() == 1 && row->dim(0) == cols) {
      bias = int_bias(ctx, other, accumulator, bias_why);
      if (!bias.empty()) {
        output = node.outputs[0];
        replaced.push_back(add);
      }
    }
  }
  Unit u = make_float_output_unit(matmul, n, "QGemm", kMsDomain);
  if (replaced.size() > 1) u.float_op = "MatMul+Add";
  u.replaced = replaced;
  u.node.inputs = {a.value, a.scale, ctx.zero_point_of(a), b.value, b.scale, ctx.zero_point_of(b)};
  if (!bias.empty()) u.node.inputs.push_back(bias);
  u.node.outputs = {output};
  if (a_shape->size() == 2) return Match{std::move(u), ""};
  // [..., K] -> [rows, K] before, [rows, cols] -> [..., cols] after.
  const int64_t k = a_shape->back();
  const int64_t rows = shape_numel(*a_shape) / std::max<int64_t>(k, 1);
  Shape out_shape = *a_shape;
  out_shape.back() = cols;
  auto reshape = [&](const std::string& from, const std::string& to, const Shape& shape) {
    Node r;
    r.name = u.node.name + "_" + to;
    r.op_type = "Reshape";
    r.inputs = {
        from, ctx.add_initializer(to + "_shape", Tensor::from_vector<int64_t>(
                                                     {static_cast<int64_t>(shape.size())}, shape))};
    r.outputs = {to};
    return r;
  };
  const std::string a_rows = ctx.fresh_value(a.value + "_rows");
  ctx.graph.info_mut(a_rows) = ValueInfo{a.params.type, symbolic(Shape{rows, k}), ""};
  const std::string product = ctx.fresh_value(output + "_rows");
  ctx.graph.info_mut(product) = ValueInfo{DType::kFloat32, symbolic(Shape{rows, cols}), ""};
  u.companions.push_back(reshape(a.value, a_rows, {rows, k}));
  u.companions.push_back(reshape(product, output, out_shape));
  u.node.inputs[0] = a_rows;
  u.node.outputs = {product};
  return Match{std::move(u), ""};
}

// MatMul(A, B constant 2-D) -> Add(constant row [N]) -> [Relu | Clip] -> Q, as quench's
// quantizer writes a linear layer whose input has more than two dims: QFusedMatMul with the row
// as its int32 bias at the accumulator's scales (eq. (131)). nullopt when the pattern is not
// there or the bias does not fit int32 (the float-output form then takes the MatMul).
std::optional<Match> biased_matmul(Context& ctx, const Node& matmul, int n, const QTensor& a,
                                   const QTensor& b) {
  const std::string& product = matmul.outputs[0];
  const Tensor* b_q = ctx.graph.initializer(b.value);
  if (!ctx.has_qfused_matmul || b_q == nullptr || b_q->rank() != 2 ||
      ctx.index.is_graph_output(product) || ctx.index.consumers(product).size() != 1) {
    return std::nullopt;
  }
  const int add = ctx.index.consumers(product)[0];
  const Node& node = ctx.graph.nodes[add];
  if (!is_op(node, "Add") || node.inputs.size() != 2) return std::nullopt;
  const std::string& row = node.input(node.input(0) == product ? 1 : 0);
  const int64_t cols = b_q->dim(1);
  std::string why;
  auto tail = ctx.tail(node.outputs[0], true, why);
  if (!tail) return std::nullopt;
  std::string bias = int_bias(ctx, row, accumulator_scales(a, b, cols), why);
  if (bias.empty()) return std::nullopt;
  if (ctx.graph.initializer(bias)->rank() != 1) {
    bias = ctx.add_initializer(bias + "_row", ctx.graph.initializer(bias)->reshaped({cols}));
  }
  Unit u = make_unit(matmul, n, *tail, "QFusedMatMul", kInternalDomain);
  u.float_op = "MatMul+Add";
  u.replaced.push_back(add);
  u.node.inputs = binary_qlinear_inputs(ctx, a, b, *tail);
  u.node.inputs.push_back(bias);
  return Match{std::move(u), ""};
}

Match match_matmul(Context& ctx, int n) {
  const Node& matmul = ctx.graph.nodes[n];
  std::string why;
  auto a = activation_input(ctx, matmul, 0, why);
  if (!a) return stays_float(why);
  auto b = ctx.dequantized(matmul.input(1), why);
  if (!b) return stays_float(why);
  if (!is_quant_type(b->params.type)) {
    return stays_float(fmt::format("B quantized to {}", dtype_name(b->params.type)));
  }
  if (b->params.per_axis()) {
    // Per-column scales of B: the last axis of a matrix (or batch of matrices).
    const auto shape = ctx.shape_of(b->value);
    if (!shape || shape->size() < 2 || b->params.axis != static_cast<int64_t>(shape->size()) - 1) {
      return stays_float(fmt::format("B quantized along axis {}, not its columns", b->params.axis));
    }
  }
  auto tail = ctx.tail(matmul.outputs[0], true, why);
  if (!tail) {
    if (std::optional<Match> m = biased_matmul(ctx, matmul, n, *a, *b)) return std::move(*m);
    Match m = float_output_matmul(ctx, matmul, n, *a, *b);
    if (!m.unit) m.reason = why + "; " + m.reason;
    return m;
  }
  Unit u = make_unit(matmul, n, *tail, "QLinearMatMul", "");
  u.node.inputs = binary_qlinear_inputs(ctx, *a, *b, *tail);
  return Match{std::move(u), ""};
}

// A Gemm whose result is not quantized (a graph output such as a classifier's logits, or read by
// float ops): com.microsoft QGemm without y_scale, a float output (eq. (39)); A, B, alpha and
// transB as the Gemm has them, beta·C as the int32 bias at the accumulator's scale.
Match float_output_gemm(Context& ctx, const Node& gemm, int n, const QTensor& a, const QTensor& b,
                        const std::string& bias) {
  Unit u = make_float_output_unit(gemm, n, "QGemm", kMsDomain);
  for (const char* attr : {"alpha", "transB"}) {
    if (gemm.has_attr(attr)) u.node.attributes[attr] = gemm.attributes.at(attr);
  }
  u.node.inputs = {a.value, a.scale, ctx.zero_point_of(a), b.value, b.scale, ctx.zero_point_of(b)};
  if (!bias.empty()) u.node.inputs.push_back(bias);
  return Match{std::move(u), ""};
}

// Gemm(A, B const, C) = alpha·A·B' + beta·C: B' is transposed at build time, alpha folded into
// B's scales, beta·C becomes QFusedMatMul's int32 bias when its scale is the accumulator's. A
// result that is not quantized: float_output_gemm.
Match match_gemm(Context& ctx, int n) {
  const Node& gemm = ctx.graph.nodes[n];
  if (gemm.attr_int("transA", 0) != 0) return stays_float("transA = 1 (A transposed at run time)");
  const bool trans_b = gemm.attr_int("transB", 0) != 0;
  const float alpha = gemm.attr_float("alpha", 1.f);
  const float beta = gemm.attr_float("beta", 1.f);
  if (!(alpha > 0.f) || !std::isfinite(alpha)) {
    return stays_float(
        fmt::format("alpha = {} (only a positive alpha folds into B's scales)", alpha));
  }
  std::string why;
  auto a = activation_input(ctx, gemm, 0, why);
  if (!a) return stays_float(why);
  auto b = weight_input(ctx, gemm, 1, trans_b ? 0 : 1, why);
  if (!b) return stays_float(why);
  const Tensor& b_q = *ctx.graph.initializer(b->value);
  if (b_q.rank() != 2) return stays_float(fmt::format("B has rank {}", b_q.rank()));
  const int64_t n_cols = trans_b ? b_q.dim(0) : b_q.dim(1);
  const int64_t k_rows = trans_b ? b_q.dim(1) : b_q.dim(0);
  std::string bias;
  if (gemm.has_input(2) && beta != 0.f) {
    std::vector<double> accumulator(static_cast<size_t>(n_cols));
    for (int64_t c = 0; c < n_cols; ++c) {
      const double b_scale = static_cast<double>(alpha) * b->params.scale(b->per_tensor() ? 0 : c);
      accumulator[c] = static_cast<double>(a->params.scale(0)) * b_scale / beta;
    }
    bias = int_bias(ctx, gemm.input(2), accumulator, why);
    if (bias.empty()) return stays_float("beta·C cannot become an int32 bias: " + why);
  }
  auto tail = ctx.tail(gemm.outputs[0], true, why);
  if (!tail) return float_output_gemm(ctx, gemm, n, *a, *b, bias);
  if (!bias.empty() && !ctx.has_qfused_matmul) return stays_float("a Gemm bias needs QFusedMatMul");

  Unit u = make_unit(gemm, n, *tail, bias.empty() ? "QLinearMatMul" : "QFusedMatMul",
                     bias.empty() ? "" : kInternalDomain);
  std::string weight = b->value;
  if (trans_b) {
    Tensor t = Tensor::empty(b_q.dtype(), {k_rows, n_cols});
    const auto* from = static_cast<const uint8_t*>(b_q.raw_data());  // 1-byte elements
    auto* to = static_cast<uint8_t*>(t.raw_data());
    for (int64_t row = 0; row < k_rows; ++row) {
      for (int64_t col = 0; col < n_cols; ++col) to[row * n_cols + col] = from[col * k_rows + row];
    }
    weight = ctx.add_initializer(b->value + "_transposed", std::move(t));
  }
  std::string scale = b->scale;
  if (alpha != 1.f) {
    Tensor s = ctx.graph.initializer(b->scale)->clone();
    for (float& v : s.values<float>()) v *= alpha;
    scale = ctx.add_initializer(b->scale + "_alpha", std::move(s));
  }
  if (!bias.empty() && ctx.graph.initializer(bias)->rank() != 1) {
    bias = ctx.add_initializer(bias + "_row", ctx.graph.initializer(bias)->reshaped({n_cols}));
  }
  u.node.inputs = {a->value,
                   a->scale,
                   ctx.zero_point_of(*a),
                   weight,
                   scale,
                   ctx.zero_point_of(*b),
                   tail->output.scale,
                   ctx.zero_point_of(tail->output)};
  if (!bias.empty()) u.node.inputs.push_back(bias);
  return Match{std::move(u), ""};
}

// Add, Mul: com.microsoft QLinearAdd / QLinearMul (one element type for A, B and C; an Add of
// mixed types only as a residual merged into its convolution).
Match match_binary(Context& ctx, int n) {
  const Node& op = ctx.graph.nodes[n];
  std::string why;
  auto a = activation_input(ctx, op, 0, why);
  if (!a) return stays_float(why);
  auto b = activation_input(ctx, op, 1, why);
  if (!b) return stays_float(why);
  auto tail = ctx.tail(op.outputs[0], true, why);
  if (!tail) return stays_float(why);
  const DType y = tail->output.params.type;
  std::string mixed;
  if (a->params.type != y || b->params.type != y) {
    mixed = fmt::format("operands {} and {} with output {}: QLinear{} needs one type",
                        dtype_name(a->params.type), dtype_name(b->params.type), dtype_name(y),
                        op.op_type);
    // A residual add may still merge into the convolution before it (lower_qdq.cc).
    if (op.op_type != "Add" || !ctx.has_qfused_conv) return stays_float(mixed);
  }
  Unit u = make_unit(op, n, *tail, "QLinear" + op.op_type, kMsDomain);
  u.node.inputs = binary_qlinear_inputs(ctx, *a, *b, *tail);
  u.fused_only = std::move(mixed);
  return Match{std::move(u), ""};
}

Match match_concat(Context& ctx, int n) {
  const Node& concat = ctx.graph.nodes[n];
  std::string why;
  std::vector<QTensor> inputs;
  for (size_t i = 0; i < concat.inputs.size(); ++i) {
    auto x = activation_input(ctx, concat, i, why);
    if (!x) return stays_float(why);
    inputs.push_back(std::move(*x));
  }
  auto tail = ctx.tail(concat.outputs[0], false, why);
  if (!tail) return stays_float(why);
  for (const QTensor& x : inputs) {
    if (x.params.type != tail->output.params.type) {
      return stays_float(fmt::format("input '{}' is {} but the output is {}", x.value,
                                     dtype_name(x.params.type),
                                     dtype_name(tail->output.params.type)));
    }
  }
  Unit u = make_unit(concat, n, *tail, "QLinearConcat", kMsDomain);
  u.node.attributes = concat.attributes;
  u.node.inputs = {tail->output.scale, ctx.zero_point_of(tail->output)};
  for (const QTensor& x : inputs) {
    u.node.inputs.insert(u.node.inputs.end(), {x.value, x.scale, ctx.zero_point_of(x)});
  }
  return Match{std::move(u), ""};
}

// MaxPool and data-movement ops: the same op on the 8-bit data, exact when the output is
// quantized with the input's parameters (max and copies commute with a monotone quantization).
Match match_same_params(Context& ctx, int n) {
  const Node& op = ctx.graph.nodes[n];
  if (op.outputs.size() > 1 && !op.outputs[1].empty()) {
    return stays_float("its second output (indices) is used");
  }
  std::string why;
  auto x = activation_input(ctx, op, 0, why);
  if (!x) return stays_float(why);
  auto tail = ctx.tail(op.outputs[0], false, why);
  if (!tail) return stays_float(why);
  if (!same_params(x->params, tail->output.params))
    return stays_float("Q params differ from input's");
  Unit u = make_unit(op, n, *tail, op.op_type, "");
  u.node.attributes = op.attributes;
  u.node.inputs = op.inputs;
  u.node.inputs[0] = x->value;
  return Match{std::move(u), ""};
}

// An op of one quantized input and output, both per tensor and of one type, that becomes the
// com.microsoft op `qop_type` with inputs (x, x_scale, x_zero_point, y_scale, y_zero_point) and
// the float op's attributes.
Match match_unary_qlinear(Context& ctx, int n, const std::string& qop_type) {
  const Node& op = ctx.graph.nodes[n];
  std::string why;
  auto io = unary_io(ctx, op, why);
  if (!io) return stays_float(why);
  Unit u = make_unit(op, n, io->tail, qop_type, kMsDomain);
  u.node.attributes = op.attributes;
  u.node.inputs = {io->x.value, io->x.scale, ctx.zero_point_of(io->x), io->tail.output.scale,
                   ctx.zero_point_of(io->tail.output)};
  return Match{std::move(u), ""};
}

// Softmax: com.microsoft QLinearSoftmax (eq. (41)); its `opset` attribute keeps the graph's axis
// semantics (before 13: coerced to 2-D).
Match match_softmax(Context& ctx, int n) {
  Match m = match_unary_qlinear(ctx, n, "QLinearSoftmax");
  if (m.unit) m.unit->node.set_attr("opset", ctx.graph.opset(""));
  return m;
}

// Split: every output quantized with the input's parameters.
Match match_split(Context& ctx, int n) {
  const Node& split = ctx.graph.nodes[n];
  std::string why;
  auto x = activation_input(ctx, split, 0, why);
  if (!x) return stays_float(why);
  std::vector<Tail> tails;
  for (const auto& out : split.outputs) {
    if (out.empty()) return stays_float("an output is absent");
    auto tail = ctx.tail(out, false, why);
    if (!tail) return stays_float(why);
    if (!same_params(x->params, tail->output.params)) {
      return stays_float("Q params differ from input's");
    }
    tails.push_back(std::move(*tail));
  }
  Unit u = make_unit(split, n, tails[0], "Split", "");
  u.node.attributes = split.attributes;
  u.node.inputs = split.inputs;
  u.node.inputs[0] = x->value;
  for (size_t i = 1; i < tails.size(); ++i) {
    u.node.outputs.push_back(tails[i].output.value);
    u.replaced.push_back(tails[i].output.node);
  }
  return Match{std::move(u), ""};
}

// A GlobalAveragePool whose result the file leaves unquantized (NNCF's squeeze, read by float
// convolutions) averages the 8-bit data into a float result: the internal
// DequantizeGlobalAveragePool (eq. (152)).
Match match_average_pool(Context& ctx, int n) {
  const Node& op = ctx.graph.nodes[n];
  Match m = match_unary_qlinear(ctx, n, "QLinear" + op.op_type);
  if (m.unit || op.op_type != "GlobalAveragePool") return m;
  std::string why;
  auto x = activation_input(ctx, op, 0, why);
  if (!x) return m;
  Unit u = make_float_output_unit(op, n, "DequantizeGlobalAveragePool", kInternalDomain);
  u.node.inputs = {x->value, x->scale, ctx.zero_point_of(*x)};
  return Match{std::move(u), ""};
}

const std::set<std::string>& data_movement_ops() {
  static const std::set<std::string> ops = {"Reshape",   "Flatten", "Transpose", "Squeeze",
                                            "Unsqueeze", "Slice",   "Gather"};
  return ops;
}

}  // namespace

bool same_params(const QuantParams& a, const QuantParams& b) {
  return a.type == b.type && a.axis == b.axis && a.scales == b.scales &&
         a.zero_points == b.zero_points;
}

Context::Context(Graph& g) : graph(g), index(g) {
  has_qfused_conv = op_registry().find(kInternalDomain, "QFusedConv") != nullptr;
  has_qfused_matmul = op_registry().find(kInternalDomain, "QFusedMatMul") != nullptr;
}

const Node* Context::producer(const std::string& value) const {
  const int p = index.producer(value);
  return p < 0 ? nullptr : &graph.nodes[p];
}

std::optional<Shape> Context::shape_of(const std::string& value) const {
  return value_shape(graph, value);
}

namespace {

// The parameters of Q/DQ node `n`, whose quantized side is `value`.
std::optional<QTensor> read_qdq(const Context& ctx, int n, const std::string& value, DType type,
                                std::string& why) {
  const Node& node = ctx.graph.nodes[n];
  const Tensor* scale = ctx.graph.initializer(node.input(1));
  const Tensor* zero_point = node.has_input(2) ? ctx.graph.initializer(node.input(2)) : nullptr;
  if (scale == nullptr || (node.has_input(2) && zero_point == nullptr)) {
    why = fmt::format("{} '{}' has parameters known only at run time", node.op_type, node.name);
    return std::nullopt;
  }
  if (scale->dtype() != DType::kFloat32 || !is_quant_type(type, true)) {
    why = fmt::format("{} '{}' is not a float <-> 8/32-bit quantization", node.op_type, node.name);
    return std::nullopt;
  }
  // Bad parameters are the file's error, whether the node would be lowered or run in float.
  check_quant_scales(node, *scale);
  if (zero_point != nullptr && zero_point->dtype() != type) {
    fail_node(node, "zero point is {} but the quantized data is {}",
              dtype_name(zero_point->dtype()), dtype_name(type));
  }
  if (zero_point != nullptr && zero_point->numel() != scale->numel()) {
    fail_node(node, "zero point has {} values but its scale has {}", zero_point->numel(),
              scale->numel());
  }
  if (node.has_attr("block_size") || scale->rank() > 1) {
    why = fmt::format("{} '{}' is blocked (scales of rank {})", node.op_type, node.name,
                      scale->rank());
    return std::nullopt;
  }
  int64_t axis = -1;
  if (scale->numel() > 1) {
    const auto shape = ctx.shape_of(value);
    if (!shape) {
      why = fmt::format("the shape of '{}' is unknown", value);
      return std::nullopt;
    }
    axis = normalize_axis(node.attr_int("axis", 1), static_cast<int64_t>(shape->size()), node);
    if ((*shape)[static_cast<size_t>(axis)] != scale->numel()) {
      fail_node(node, "{} scales for axis {} of extent {}", scale->numel(), axis,
                (*shape)[static_cast<size_t>(axis)]);
    }
  }
  QTensor t;
  t.value = value;
  t.scale = node.input(1);
  t.zero_point = zero_point ? node.input(2) : "";
  t.params = read_quant_params(*scale, zero_point, type, axis);
  t.node = n;
  return t;
}

}  // namespace

std::optional<QTensor> Context::dequantized(const std::string& value, std::string& why) const {
  const int p = index.producer(value);
  if (p < 0) {
    why = fmt::format("input '{}' is not quantized", value);
    return std::nullopt;
  }
  const Node& dq = graph.nodes[p];
  if (!is_op(dq, "DequantizeLinear")) {
    why = fmt::format("input '{}' comes from {} '{}', not from a DequantizeLinear", value,
                      dq.op_type, dq.name);
    return std::nullopt;
  }
  return read_qdq(*this, p, dq.input(0), value_type(graph, dq.input(0)), why);
}

std::optional<QTensor> Context::quantized_output(int q, std::string& why, bool per_channel) const {
  const Node& node = graph.nodes[q];
  if (value_type(graph, node.input(0)) != DType::kFloat32) {
    why = fmt::format("QuantizeLinear '{}' quantizes a non-float value", node.name);
    return std::nullopt;
  }
  const DType type = node.has_input(2) ? value_type(graph, node.input(2)) : DType::kUInt8;
  auto t = read_qdq(*this, q, node.outputs[0], type, why);
  if (!t) return std::nullopt;
  const bool channels = per_channel && t->params.axis == 1;
  if (!is_quant_type(t->params.type) || !(t->per_tensor() || channels)) {
    why = fmt::format("QuantizeLinear '{}' is not per-tensor 8-bit", node.name);
    return std::nullopt;
  }
  return t;
}

std::optional<Tail> Context::tail(const std::string& value, bool allow_clamp, std::string& why,
                                  bool per_channel_output, bool channel_bound,
                                  bool function) const {
  auto single_reader = [&](const std::string& v) -> int {
    if (index.is_graph_output(v)) {
      why = fmt::format("its float result '{}' is a graph output", v);
      return -1;
    }
    const auto& readers = index.consumers(v);
    if (readers.size() != 1) {
      why = readers.empty()
                ? fmt::format("its result '{}' is unused", v)
                : fmt::format("its float result '{}' is read by {} nodes", v, readers.size());
      return -1;
    }
    return readers[0];
  };
  Tail t;
  int next = single_reader(value);
  if (next < 0) return std::nullopt;
  if (allow_clamp && !is_op(graph.nodes[next], "QuantizeLinear")) {
    const auto act = Activation::from_node(graph.nodes[next], graph);
    if (act && (act->kind == ActKind::kRelu || act->kind == ActKind::kClip)) {
      t.activation = next;
      t.clamp = act->kind == ActKind::kRelu ? Clamp{0.f, std::numeric_limits<float>::infinity()}
                                            : Clamp{act->alpha, act->beta};
      next = single_reader(graph.nodes[next].outputs[0]);
      if (next < 0) return std::nullopt;
      const Node& min = graph.nodes[next];
      if (channel_bound && is_op(min, "Min") && min.inputs.size() == 2) {
        // A constant bound: one value (a clamp like Clip's), or one per channel of the result,
        // axis 1, as it broadcasts against it.
        const std::string& act_out = graph.nodes[t.activation].outputs[0];
        const Tensor* bound = graph.initializer(min.input(min.input(0) == act_out ? 1 : 0));
        const auto result = shape_of(value);
        const int64_t r = bound ? bound->rank() : 0;
        const int64_t axis = result ? 1 - (static_cast<int64_t>(result->size()) - r) : -1;
        const bool per_channel = bound != nullptr && bound->numel() > 1 && axis >= 0 && axis < r &&
                                 bound->dim(axis) == bound->numel();
        if (bound == nullptr || bound->dtype() != DType::kFloat32 ||
            (bound->numel() != 1 && !per_channel)) {
          why = fmt::format("Min '{}' after it has no constant bound per channel", min.name);
          return std::nullopt;
        }
        const float* v = bound->data<float>();
        if (per_channel) {
          t.channel_bounds.assign(v, v + bound->numel());
          t.bound_shape = bound->shape();
        } else {
          t.clamp->hi = std::min(t.clamp->hi, v[0]);
        }
        t.bound = next;
        next = single_reader(min.outputs[0]);
        if (next < 0) return std::nullopt;
      }
    } else if (act && function) {
      t.activation = next;
      t.function = act;
      next = single_reader(graph.nodes[next].outputs[0]);
      if (next < 0) return std::nullopt;
    }
  }
  const Node& q = graph.nodes[next];
  if (!is_op(q, "QuantizeLinear")) {
    why = fmt::format("its result is read by {} '{}', not quantized", q.op_type, q.name);
    return std::nullopt;
  }
  auto output = quantized_output(next, why, per_channel_output);
  if (!output) return std::nullopt;
  t.output = std::move(*output);
  return t;
}

std::string Context::add_initializer(const std::string& base, Tensor value) {
  const std::string name = graph.unique_name(base);
  graph.info_mut(name) = ValueInfo{value.dtype(), symbolic(value.shape()), ""};
  graph.initializers[name] = std::move(value);
  return name;
}

std::string Context::zero_point_of(const QTensor& t) {
  if (!t.zero_point.empty()) return t.zero_point;
  const std::string key = fmt::format("{}/{}", t.scale, dtype_name(t.params.type));
  auto it = zero_points_.find(key);
  if (it != zero_points_.end()) return it->second;
  const Shape shape = graph.initializer(t.scale)->shape();
  const std::string name =
      add_initializer(t.scale + "_zero_point", Tensor::zeros(t.params.type, shape));
  zero_points_[key] = name;
  return name;
}

std::string Context::fresh_value(const std::string& base) {
  const std::string name = graph.unique_name(base);
  graph.info_mut(name);
  return name;
}

Match match_unit(Context& ctx, int n) {
  const Node& node = ctx.graph.nodes[n];
  if (auto chain = match_elementwise_chain(ctx, n)) return std::move(*chain);
  if (const auto f = Activation::from_node(node, ctx.graph)) return match_lookup(ctx, n, *f);
  bool reads_quantized = false;
  for (const auto& in : node.inputs) {
    const Node* p = in.empty() ? nullptr : ctx.producer(in);
    reads_quantized |= p != nullptr && is_op(*p, "DequantizeLinear");
  }
  if (!reads_quantized) return stays_float("no input is quantized");
  if (!node.domain.empty()) return stays_float(fmt::format("{}: no integer kernel", node.op_type));
  const std::string& op = node.op_type;
  if (op == "Conv") return match_conv(ctx, n);
  if (op == "MatMul") return match_matmul(ctx, n);
  if (op == "Gemm") return match_gemm(ctx, n);
  if (op == "Add" || op == "Mul") return match_binary(ctx, n);
  if (op == "Concat") return match_concat(ctx, n);
  if (op == "MaxPool" || data_movement_ops().count(op)) return match_same_params(ctx, n);
  if (op == "AveragePool" || op == "GlobalAveragePool") return match_average_pool(ctx, n);
  if (op == "Split") return match_split(ctx, n);
  if (op == "Softmax") return match_softmax(ctx, n);
  return stays_float(fmt::format("{}: no integer kernel", op));
}

std::string unit_label(const Unit& unit) {
  return fmt::format("{} -> {}", unit.float_op, unit.node.op_type);
}

}  // namespace quench::qdq_lowering

// QDQ lowering: float ops between DequantizeLinear and QuantizeLinear become integer ops
// (docs/quantization.md, "Lowering QDQ to integer ops"). This file is the driver: match one unit
// per float op (lower_qdq_units.cc), merge residual adds into the convolution before them, emit
// the integer nodes, then fold what stays constant.
//
// The pass must see DequantizeLinear(int8 weight) as a node: constant folding would turn it into
// a float initializer and the Conv would no longer look quantized. Folding leaves Q/DQ nodes alone
// (FoldOptions::keep_op_types), so the pass can run on the shape-specialized graph the session
// plans from, where Shape/Reshape chains are already constants; afterwards, the DQ of weights
// that stay in float are folded here, so that float kernels get constant weights to pack.
#include <algorithm>
#include <limits>

#include "core/requantize.h"
#include "ops/fused.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/qfused.h"
#include "passes/lower_qdq_internal.h"
#include "quench/passes.h"

namespace quench {
namespace qdq_lowering {
namespace {

// A node that computes float data (not a Q/DQ, a Constant, an Identity or shape arithmetic).
bool computes_float(const Graph& g, const Node& node) {
  if (is_op(node, "QuantizeLinear") || is_op(node, "DequantizeLinear") || is_op(node, "Constant") ||
      is_op(node, "Identity")) {
    return false;
  }
  for (const auto& out : node.outputs) {
    const ValueInfo* info = out.empty() ? nullptr : g.info(out);
    if (info && info->dtype == DType::kFloat32) return true;
  }
  return false;
}

// Residual: Conv -> Q -> DQ -> Add(., other) [-> Relu] -> Q, the conv's Q and DQ read only on
// that path, becomes one QFusedConv with the sum triple. The conv's own quantization disappears,
// so the fused result can differ from the unfused QDQ graph by ±1 (and where that quantization
// saturated).
void fuse_residuals(Context& ctx, std::vector<Unit>& units, std::vector<bool>& alive) {
  std::map<int, size_t> conv_of_q;  // Q node -> its unit, for plain (no activation) convs
  for (size_t u = 0; u < units.size(); ++u) {
    if (units[u].node.op_type == "QLinearConv" && !units[u].has_activation &&
        !units[u].output_scales_folded) {
      conv_of_q[units[u].output.node] = u;
    }
  }
  const Graph& g = ctx.graph;
  for (size_t u = 0; u < units.size(); ++u) {
    if (!alive[u] || units[u].node.op_type != "QLinearAdd") continue;
    const Node& add = g.nodes[units[u].op_node];
    const auto out_shape = ctx.shape_of(add.outputs[0]);
    int best = -1;  // the chosen conv's node index
    size_t best_side = 0, best_unit = 0;
    for (size_t side = 0; side < 2; ++side) {
      const std::string& dq_out = add.input(side);
      const int dq = ctx.index.producer(dq_out);
      if (dq < 0 || !ctx.index.single_use(dq_out)) continue;
      const std::string& conv_q = g.nodes[dq].input(0);
      const int q = ctx.index.producer(conv_q);
      auto it = conv_of_q.find(q);
      if (it == conv_of_q.end() || !alive[it->second] || !ctx.index.single_use(conv_q)) continue;
      const bool same_shapes = out_shape && ctx.shape_of(conv_q) == out_shape &&
                               ctx.shape_of(add.input(1 - side)) == out_shape;
      // The later conv, so that the other operand is computed first (as fuse_one_add does).
      if (same_shapes && units[it->second].op_node > best) {
        best = units[it->second].op_node;
        best_side = side;
        best_unit = it->second;
      }
    }
    if (best < 0) continue;
    Unit& conv = units[best_unit];
    const Unit& sum = units[u];
    conv.node.op_type = "QFusedConv";
    conv.node.domain = kInternalDomain;
    using In = QFusedInputs;
    conv.node.inputs.resize(In::kSum);  // an absent bias keeps its position
    // The add's output parameters (QLinearAdd's inputs 6, 7) become the fused node's.
    conv.node.inputs[In::kYScale] = sum.node.inputs[6];
    conv.node.inputs[In::kYZeroPoint] = sum.node.inputs[7];
    const size_t other = best_side == 0 ? 3 : 0;  // the QLinearAdd triple of the other operand
    for (size_t i = 0; i < 3; ++i) conv.node.inputs.push_back(sum.node.inputs[other + i]);
    conv.node.outputs = sum.node.outputs;
    conv.output = sum.output;
    conv.clamp = sum.clamp;
    conv.has_activation = sum.has_activation;
    conv.float_op = "Conv+Add";
    conv.replaced.insert(conv.replaced.end(), sum.replaced.begin(), sum.replaced.end());
    alive[u] = false;
  }
}

// The activation before the unit's Q: dropped when the Q's range already clamps as tightly
// (quantize(clamp(r)) = quantize(r) when lo <= dequantize(q_min) and hi >= dequantize(q_max)),
// else an epilogue of a fused op, else a QLookup clamp table after the integer node; the last is
// exact too, since quantization is monotone: quantize(clamp(r, lo, hi)) = clamp(quantize(r),
// quantize(lo), quantize(hi)).
void emit_clamp(Context& ctx, Unit& u, std::vector<Node>& emitted) {
  if (!u.clamp) return;
  const QuantParams& y = u.output.params;
  const auto [q_min, q_max] = visit_quant_type(y.type, [](auto q) {
    using Q = typename decltype(q)::type;
    return std::pair<int32_t, int32_t>(kQuantMin<Q>, kQuantMax<Q>);
  });
  if (u.clamp->lo <= dequantize(q_min, y.scale(0), y.zero_point(0)) &&
      u.clamp->hi >= dequantize(q_max, y.scale(0), y.zero_point(0))) {
    return;
  }
  Node& node = u.node;
  if (node.op_type == "QLinearConv" && ctx.has_qfused_conv) {
    node.op_type = "QFusedConv";
    node.domain = kInternalDomain;
  } else if (node.op_type == "QLinearMatMul" && ctx.has_qfused_matmul) {
    node.op_type = "QFusedMatMul";
    node.domain = kInternalDomain;
  }
  if (node.domain == kInternalDomain && node.op_type != "QLookup") {
    set_act_bounds(node, ActBounds{u.clamp->lo, u.clamp->hi});
    return;
  }
  const std::string out = node.outputs[0];
  node.outputs[0] = ctx.fresh_value(out + "_unclamped");
  Node lookup;
  lookup.name = node.name + "_clamp";
  lookup.op_type = "QLookup";
  lookup.domain = kInternalDomain;
  const Activation clip{ActKind::kClip, u.clamp->lo, u.clamp->hi};
  lookup.inputs = {node.outputs[0],
                   ctx.add_initializer(out + "_clamp_table", lookup_table(y, y, clip))};
  lookup.outputs = {out};
  emitted.push_back(std::move(lookup));
}

// A per-channel upper bound in the unit's tail (a Min after the Relu, as cross-layer
// equalization writes a ReLU6), exact by eq. (50) since quantization is monotone: QFusedConv's
// y_max (eq. (157)) where the runtime has it, else an 8-bit Min of the integer node's output with
// the quantized bounds.
void emit_channel_bound(Context& ctx, Unit& u, std::vector<Node>& emitted) {
  if (!u.channel_max.defined()) return;
  Node& node = u.node;
  if ((node.op_type == "QLinearConv" || node.op_type == "QFusedConv") && ctx.has_qfused_conv) {
    node.op_type = "QFusedConv";
    node.domain = kInternalDomain;
    node.inputs.resize(QFusedInputs::kYMax);
    node.inputs.push_back(ctx.add_initializer(node.outputs[0] + "_y_max",
                                              u.channel_max.reshaped({u.channel_max.numel()})));
    return;
  }
  const std::string out = node.outputs[0];
  node.outputs[0] = ctx.fresh_value(out + "_unbounded");
  Node min;
  min.name = node.name + "_channel_bound";
  min.op_type = "Min";
  min.inputs = {node.outputs[0], ctx.add_initializer(out + "_channel_bound", u.channel_max)};
  min.outputs = {out};
  emitted.push_back(std::move(min));
}

}  // namespace
}  // namespace qdq_lowering

LoweringReport lower_qdq(Graph& graph) {
  using namespace qdq_lowering;
  const bool quantized = std::any_of(graph.nodes.begin(), graph.nodes.end(),
                                     [](const Node& n) { return is_op(n, "DequantizeLinear"); });
  if (!quantized) return {};  // float models are left exactly as they are
  // Identity, Cast and constant chains between a constant and its DequantizeLinear or its reader.
  see_through_constants(graph);
  // The exact-GELU pattern between a DQ and a Q becomes one Gelu node, and then one table.
  fuse_gelu(graph);
  // Mul(x, Sigmoid(x)) becomes one Swish node: a table between a DQ and a Q, or the activation of
  // an integer convolution whose result the file leaves unquantized before it (eq. (150)).
  fuse_swish(graph);
  topological_sort(graph);
  // DQ -> MaxPool / Flatten / ... read without a Q after them: the DQ moves below the op.
  sink_dequantize(graph);
  // DQ(int8), DQ(uint8) -> Mul -> Q(int8): the uint8 operand retyped at its source (eq. (151)).
  retype_quantized_operands(graph);
  // DQ(int8 W, R) -> GRU: the integer GRU with run-time quantized inputs (eqs. (136)-(138)).
  const std::vector<std::string> gru_reasons = lower_dynamic_gru(graph);
  Context ctx(graph);
  std::vector<Unit> units;
  std::vector<bool> covered(graph.nodes.size(), false);
  std::vector<std::string> reasons(graph.nodes.size());
  int dynamic_grus = 0;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (covered[n] || !computes_float(graph, graph.nodes[n])) continue;
    if (is_op(graph.nodes[n], "GRU")) {
      reasons[n] = gru_reasons[n];
      continue;
    }
    if (graph.nodes[n].op_type == "DynamicQuantizeGRU") {
      ++dynamic_grus;
      continue;
    }
    Match m = match_unit(ctx, static_cast<int>(n));
    if (!m.unit) {
      reasons[n] = std::move(m.reason);
      continue;
    }
    for (int r : m.unit->replaced) covered[r] = true;
    units.push_back(std::move(*m.unit));
  }
  std::vector<bool> alive(units.size(), true);
  if (ctx.has_qfused_conv) fuse_residuals(ctx, units, alive);
  // An add of mixed 8-bit types exists only merged into its convolution (the sum may have
  // another type than the output); otherwise it stays in float.
  for (size_t u = 0; u < units.size(); ++u) {
    if (alive[u] && !units[u].fused_only.empty()) {
      alive[u] = false;
      reasons[units[u].op_node] = units[u].fused_only;
    }
  }

  LoweringReport report;
  if (dynamic_grus > 0) {
    report.lowered["GRU -> DynamicQuantizeGRU"] = dynamic_grus;
    report.units += dynamic_grus;
  }
  std::vector<Node> emitted;
  std::vector<bool> removed(graph.nodes.size(), false);
  for (size_t u = 0; u < units.size(); ++u) {
    if (!alive[u]) continue;
    Unit& unit = units[u];
    emit_clamp(ctx, unit, emitted);
    emit_channel_bound(ctx, unit, emitted);
    for (int r : unit.replaced) removed[r] = true;
    ++report.lowered[unit_label(unit)];
    ++report.units;
    if (unit.node.domain == kMsDomain)
      graph.opsets[kMsDomain] = std::max<int64_t>(graph.opset(kMsDomain), 1);
    emitted.push_back(std::move(unit.node));
    for (Node& node : unit.companions) emitted.push_back(std::move(node));
  }
  for (const Node& node : emitted) {
    if (node.domain == kInternalDomain) graph.opsets[kInternalDomain] = graph.opset("");
  }
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!removed[n] && !reasons[n].empty()) {
      const Node& node = graph.nodes[n];
      report.float_nodes.push_back({node.name, node.op_type, reasons[n]});
    }
  }
  std::vector<Node> kept;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    if (!removed[n]) kept.push_back(std::move(graph.nodes[n]));
  }
  for (Node& node : emitted) kept.push_back(std::move(node));
  graph.nodes = std::move(kept);
  eliminate_dead_nodes(graph);
  FoldOptions fold;
  fold.keep_op_types.clear();
  fold_constants(graph, fold);
  return report;
}

}  // namespace quench

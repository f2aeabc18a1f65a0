// Table units of the QDQ-lowering pass: an element-wise function between a DequantizeLinear and a
// QuantizeLinear is exactly a 256-entry map from the input's 8-bit values to the output's (eq.
// (40)), run by the internal QLookup op.
#include <set>

#include "core/requantize.h"
#include "ops/evaluate.h"
#include "ops/fused.h"
#include "ops/quantized/integer_products.h"
#include "passes/lower_qdq_internal.h"

namespace quench::qdq_lowering {
namespace {

// Element-wise float ops a chain may hold besides the activations of ops/activation.h: unary, or
// binary with a scalar constant as the other operand.
const std::set<std::string>& chain_unary_ops() {
  static const std::set<std::string> ops = {"Erf", "Exp",      "Log",      "Sqrt", "Neg",
                                            "Abs", "Softplus", "Softsign", "Elu",  "Selu"};
  return ops;
}
const std::set<std::string>& chain_binary_ops() {
  static const std::set<std::string> ops = {"Add", "Sub", "Mul", "Div", "Pow"};
  return ops;
}

// Whether `node` maps `value` element by element (every other input a scalar constant).
bool elementwise_of(const Graph& g, const Node& node, const std::string& value) {
  if (Activation::from_node(node, g)) return node.input(0) == value;
  if (!node.domain.empty() || node.outputs.size() != 1) return false;
  if (chain_unary_ops().count(node.op_type))
    return node.inputs.size() == 1 && node.input(0) == value;
  if (!chain_binary_ops().count(node.op_type) || node.inputs.size() != 2) return false;
  const size_t side = node.input(0) == value ? 0 : 1;
  const Tensor* other = g.initializer(node.input(1 - side));
  return node.input(side) == value && other != nullptr && other->numel() == 1 &&
         other->dtype() == DType::kFloat32;
}

}  // namespace

Tensor lookup_table(const QuantParams& x, const QuantParams& y, const Activation& f) {
  Tensor table = Tensor::empty(y.type, {256});
  visit_quant_type(y.type, [&](auto q) {
    using Q = typename decltype(q)::type;
    fill_table<Q>(x.scale(0), x.zero_point(0), y.scale(0), y.zero_point(0), f, table.data<Q>());
  });
  return table;
}

Match match_lookup(Context& ctx, int n, const Activation& f) {
  const Node& op = ctx.graph.nodes[n];
  std::string why;
  auto io = unary_io(ctx, op, why);
  if (!io) return stays_float(why);
  Unit u = make_unit(op, n, io->tail, "QLookup", kInternalDomain);
  const std::string table = ctx.add_initializer(
      io->tail.output.value + "_table", lookup_table(io->x.params, io->tail.output.params, f));
  u.node.inputs = {io->x.value, table};
  return Match{std::move(u), ""};
}

// DQ -> op -> op ... -> Q with element-wise ops: the table is the chain evaluated by the
// reference kernels on the 256 dequantized input values, then quantized (eq. (31)).
std::optional<Match> match_elementwise_chain(Context& ctx, int n) {
  const Graph& g = ctx.graph;
  const Node& first = g.nodes[n];
  if (!elementwise_of(g, first, first.input(0)) && !elementwise_of(g, first, first.input(1))) {
    return std::nullopt;
  }
  const bool activation = Activation::from_node(first, g).has_value();
  const size_t data = elementwise_of(g, first, first.input(0)) ? 0 : 1;
  std::string why;
  auto x = activation_input(ctx, first, data, why);
  if (!x) return activation ? std::nullopt : std::optional<Match>(stays_float(why));
  std::vector<int> chain = {n};
  std::string value = first.outputs[0];
  for (;;) {
    if (ctx.index.is_graph_output(value) || ctx.index.consumers(value).size() != 1) break;
    const int next = ctx.index.consumers(value)[0];
    if (!elementwise_of(g, g.nodes[next], value)) break;
    chain.push_back(next);
    value = g.nodes[next].outputs[0];
  }
  if (activation && chain.size() == 1) return std::nullopt;  // one activation: match_lookup
  auto tail = ctx.tail(value, false, why);
  if (!tail) return stays_float(why);

  Tensor values = Tensor::empty(DType::kFloat32, {256});
  const int32_t q_min = x->params.type == DType::kInt8 ? -128 : 0;
  for (int32_t i = 0; i < 256; ++i) {
    values.data<float>()[i] = dequantize(q_min + i, x->params.scale(0), x->params.zero_point(0));
  }
  std::string input = first.input(data);
  std::string float_ops;
  for (int c : chain) {
    const Node& node = g.nodes[c];
    std::vector<const Tensor*> args;
    for (const auto& in : node.inputs) args.push_back(in == input ? &values : g.initializer(in));
    values = evaluate_node(node, g.opset(node.domain), args).at(0);
    input = node.outputs[0];
    float_ops += (float_ops.empty() ? "" : "+") + node.op_type;
  }
  const QuantParams& y = tail->output.params;
  Tensor table = Tensor::empty(y.type, {256});
  visit_quant_type(y.type, [&](auto q) {
    using Q = typename decltype(q)::type;
    for (int i = 0; i < 256; ++i) {
      table.data<Q>()[i] = quantize<Q>(values.data<float>()[i], y.scale(0), y.zero_point(0));
    }
  });
  Unit u = make_unit(first, n, *tail, "QLookup", kInternalDomain);
  u.float_op = float_ops;
  u.replaced.insert(u.replaced.end(), chain.begin() + 1, chain.end());
  u.node.inputs = {x->value, ctx.add_initializer(tail->output.value + "_table", std::move(table))};
  return Match{std::move(u), ""};
}

}  // namespace quench::qdq_lowering

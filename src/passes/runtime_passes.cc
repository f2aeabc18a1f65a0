#include "passes/runtime_passes.h"

#include "ir/graph_index.h"
#include "ops/fused.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_float(const Graph& g, const std::string& value) {
  const ValueInfo* info = g.info(value);
  return info && info->dtype == DType::kFloat32;
}

bool fusible_producer(const Node& node, bool allow_sum) {
  if (node.domain.empty()) return !fused_op_for(node.op_type).empty();
  // Other internal ops (Gelu, Swish, DequantizeGlobalAveragePool, ...) take no epilogue.
  if (node.domain != kInternalDomain || node.op_type.rfind("Fused", 0) != 0) return false;
  const FusedInfo info = fused_info(node);
  return info.activation.kind == ActKind::kNone && (allow_sum || info.sum_input < 0);
}

// Moves `consumer`'s output onto `producer` and drops `consumer`.
void absorb(Graph& g, size_t producer, size_t consumer) {
  g.values.erase(g.nodes[producer].outputs[0]);
  g.nodes[producer].outputs[0] = g.nodes[consumer].outputs[0];
  g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(consumer));
}

// Conv -> Add(conv, other) with `other` of the output's shape: the add becomes a sum epilogue.
// MatMul -> Add(matmul, 1-D constant bias along the last axis): a bias epilogue.
bool fuse_one_add(Graph& g) {
  GraphIndex index(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& add = g.nodes[i];
    if (add.op_type != "Add" || !add.domain.empty() || add.inputs.size() != 2) continue;
    if (!is_float(g, add.outputs[0]) || add.input(0) == add.input(1)) continue;
    const auto out_shape = value_shape(g, add.outputs[0]);
    if (!out_shape) continue;
    int best = -1;
    size_t best_side = 0;
    for (size_t side = 0; side < 2; ++side) {
      const int p = index.producer(add.input(side));
      if (p < 0 || !index.single_use(add.input(side)) || !fusible_producer(g.nodes[p], false)) {
        continue;
      }
      const std::string& other = add.input(1 - side);
      const auto other_shape = value_shape(g, other);
      const Node& prod = g.nodes[p];
      const bool is_matmul = prod.op_type == "MatMul" || prod.op_type == "FusedMatMul";
      const bool conv_sum = (prod.op_type == "Conv" || prod.op_type == "FusedConv") &&
                            other_shape == out_shape &&
                            value_shape(g, add.input(side)) == out_shape;
      const bool matmul_bias = is_matmul && g.is_initializer(other) && other_shape &&
                               other_shape->size() == 1 && !out_shape->empty() &&
                               (*other_shape)[0] == out_shape->back() &&
                               prod.attr_int("bias", 0) == 0;
      if ((conv_sum || matmul_bias) && p > best) {
        best = p;
        best_side = side;
      }
    }
    if (best < 0) continue;
    Node& prod = g.nodes[best];
    const std::string other = add.input(1 - best_side);
    const bool is_matmul = prod.op_type == "MatMul" || prod.op_type == "FusedMatMul";
    make_fused(prod, g);
    prod.inputs.push_back(other);
    prod.set_attr(is_matmul ? "bias" : "sum", int64_t{1});
    absorb(g, best, i);
    return true;
  }
  return false;
}

bool fuse_one_activation(Graph& g) {
  GraphIndex index(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& act_node = g.nodes[i];
    if (act_node.inputs.empty() || !is_float(g, act_node.input(0))) continue;
    const auto act = Activation::from_node(act_node, g);
    if (!act) continue;
    const int p = index.producer(act_node.input(0));
    if (p < 0 || !index.single_use(act_node.input(0)) || !fusible_producer(g.nodes[p], true)) {
      continue;
    }
    Node& prod = g.nodes[p];
    make_fused(prod, g);
    act->to_attributes(prod);
    absorb(g, p, i);
    return true;
  }
  return false;
}

}  // namespace

void make_fused(Node& node, Graph& g) {
  if (node.domain == kInternalDomain) return;
  node.op_type = fused_op_for(node.op_type);
  node.domain = kInternalDomain;
  Activation{}.to_attributes(node);
  // Fused nodes keep the base op's semantics, so they read the default domain's opset.
  g.opsets[kInternalDomain] = g.opset("");
}

void apply_graph_optimizations(Graph& graph) { fold_batch_norms(graph); }

void apply_runtime_fusions(Graph& graph, const RuntimeFusionOptions& options) {
  fuse_lookup_products(graph);
  fuse_matmul_integer_to_float(graph);
  fuse_gelu(graph);
  fuse_swish(graph);
  if (options.bf16_products) read_bfloat16_operands(graph);
  while (fuse_one_add(graph)) {
  }
  while (fuse_one_activation(graph)) {
  }
  if (options.bf16_products) write_bfloat16_results(graph);
  topological_sort(graph);
}

}  // namespace quench

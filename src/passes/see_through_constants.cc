// Constant chains in QDQ files written by other tools, resolved before QDQ lowering so that the
// lowering sees DequantizeLinear(constant) right where a float op reads it:
//
// - Identity nodes (exporters deduplicate identical initializers and read the shared one through
//   an Identity per user) and Casts to the type their input already has are bypassed: their
//   readers read the input directly;
// - whatever is computable from initializers is folded (Constant nodes, Cast, Reshape, Shape ->
//   Gather, small arithmetic, and QuantizeLinear of a constant weight): fold_constants(), with
//   DequantizeLinear nodes kept;
// - data movement applied to a dequantized constant (DQ(w) -> Transpose / Reshape / Squeeze /
//   Unsqueeze / Flatten / Identity) is moved before the DequantizeLinear and folded, so that the
//   reader sees DQ(moved w). Per-tensor parameters move unchanged; per-axis ones follow their axis
//   (eq. (130)); when the axis does not survive the movement the chain is left as it is.
#include <numeric>
#include <set>

#include "ir/graph_index.h"
#include "ir/shape_util.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_op(const Node& node, const char* op_type) {
  return node.domain.empty() && node.op_type == op_type;
}

// A node whose output equals its input 0: Identity, or a Cast to the input's own type.
bool is_pass_through(const Graph& g, const Node& node) {
  if (node.outputs.size() != 1 || node.inputs.empty() || node.input(0).empty()) return false;
  if (is_op(node, "Identity")) return true;
  if (is_op(node, "Cast")) {
    const DType from = value_type(g, node.input(0));
    return from != DType::kUndefined && node.attr_int("to", 0) == static_cast<int64_t>(from);
  }
  return false;
}

// Readers of pass-through nodes read their inputs. A pass-through writing a graph output stays
// (the output keeps its name). Returns the number bypassed.
int bypass_pass_through(Graph& g) {
  std::map<std::string, std::string> alias;
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::vector<Node> kept;
  for (Node& node : g.nodes) {
    if (is_pass_through(g, node) && outputs.count(node.outputs[0]) == 0) {
      // Graph order is topological: the source of a chain of pass-throughs is resolved first.
      std::string source = node.input(0);
      if (auto it = alias.find(source); it != alias.end()) source = it->second;
      alias[node.outputs[0]] = source;
      continue;
    }
    kept.push_back(std::move(node));
  }
  const int bypassed = static_cast<int>(g.nodes.size() - kept.size());
  g.nodes = std::move(kept);
  if (bypassed == 0) return 0;
  for (Node& node : g.nodes) {
    for (auto& in : node.inputs) {
      if (auto it = alias.find(in); it != alias.end()) in = it->second;
    }
  }
  return bypassed;
}

// Movement ops that only relabel the elements of their input 0 (other inputs: constant shapes,
// axes).
bool is_movement(const Node& node) {
  return is_op(node, "Transpose") || is_op(node, "Reshape") || is_op(node, "Squeeze") ||
         is_op(node, "Unsqueeze") || is_op(node, "Flatten");
}

// The output axis a per-axis quantization along input axis `axis` becomes after `node`, or -1.
// Transpose: the position of `axis` in perm. Row-major reshapes (Reshape, Squeeze, Unsqueeze,
// Flatten) keep an element's index along `axis` when some output axis j has the input's extent
// there and the same number of elements before it (eq. (130)).
int64_t moved_axis(const Node& node, int64_t axis, const Shape& in, const Shape& out) {
  if (is_op(node, "Transpose")) {
    std::vector<int64_t> perm = node.attr_ints("perm");
    if (perm.empty()) {
      perm.resize(in.size());
      std::iota(perm.rbegin(), perm.rend(), int64_t{0});
    }
    for (size_t j = 0; j < perm.size(); ++j) {
      if (perm[j] == axis) return static_cast<int64_t>(j);
    }
    return -1;
  }
  int64_t before = 1;
  for (int64_t d = 0; d < axis; ++d) before *= in[d];
  int64_t out_before = 1;
  for (size_t j = 0; j < out.size(); ++j) {
    if (out_before == before && out[j] == in[axis]) return static_cast<int64_t>(j);
    out_before *= out[j];
  }
  return -1;
}

// DQ(constant) -> movement op: the op moves onto the quantized constant (folded afterwards) and a
// new DequantizeLinear writes the op's output. Returns the number of ops moved.
int move_before_dequantize(Graph& g) {
  const GraphIndex index(g);
  int moved = 0;
  std::vector<Node> added;
  for (Node& node : g.nodes) {
    if (!is_movement(node) || node.outputs.size() != 1) continue;
    const int p = index.producer(node.input(0));
    if (p < 0) continue;
    const Node& dq = g.nodes[p];
    if (!is_op(dq, "DequantizeLinear") || dq.has_attr("block_size")) continue;
    const Tensor* q = g.initializer(dq.input(0));
    const Tensor* scale = g.initializer(dq.input(1));
    if (q == nullptr || scale == nullptr || (dq.has_input(2) && !g.is_initializer(dq.input(2)))) {
      continue;
    }
    bool constant_args = true;
    for (size_t i = 1; i < node.inputs.size(); ++i) {
      constant_args = constant_args && (node.input(i).empty() || g.is_initializer(node.input(i)));
    }
    if (!constant_args) continue;
    int64_t axis = -1;
    if (scale->numel() > 1) {
      const ValueInfo* info = g.info(node.outputs[0]);
      const auto out = info && info->shape ? concrete(*info->shape) : std::nullopt;
      if (!out) continue;
      const int64_t rank = q->rank();
      const int64_t dq_axis = dq.attr_int("axis", 1);
      if (dq_axis < -rank || dq_axis >= rank) continue;  // the lowering reports it
      axis = moved_axis(node, dq_axis < 0 ? dq_axis + rank : dq_axis, q->shape(), *out);
      if (axis < 0) continue;
    }
    Node moved_q = node;
    moved_q.name = g.unique_name(node.name.empty() ? dq.input(0) + "_moved" : node.name + "_q");
    moved_q.inputs[0] = dq.input(0);
    moved_q.outputs = {g.unique_name(dq.input(0) + "_" + node.op_type)};
    g.info_mut(moved_q.outputs[0]) = ValueInfo{q->dtype(), std::nullopt, ""};
    Node new_dq = dq;
    new_dq.name = g.unique_name(moved_q.name + "_dq");
    new_dq.inputs[0] = moved_q.outputs[0];
    new_dq.outputs = node.outputs;
    if (axis >= 0) new_dq.set_attr("axis", axis);
    node = std::move(moved_q);
    added.push_back(std::move(new_dq));
    ++moved;
  }
  for (Node& n : added) g.nodes.push_back(std::move(n));
  return moved;
}

}  // namespace

int see_through_constants(Graph& graph) {
  // QuantizeLinear of a constant (NNCF writes float weights behind Q -> DQ) folds to the integer
  // constant the DequantizeLinear reads; DequantizeLinear nodes stay for the lowering to match.
  FoldOptions fold;
  fold.keep_op_types = {"DequantizeLinear", "DynamicQuantizeLinear"};
  topological_sort(graph);
  int changed = 0;
  // Each round resolves one more link of a chain (DQ -> Reshape -> Transpose needs two).
  for (int round = 0; round < 16; ++round) {
    int now = bypass_pass_through(graph);
    if (now > 0) topological_sort(graph);
    now += fold_constants(graph, fold);
    const int moved = move_before_dequantize(graph);
    if (moved > 0) {
      topological_sort(graph);
      fold_constants(graph, fold);
    }
    now += moved;
    changed += now;
    if (now == 0) break;
  }
  return changed;
}

}  // namespace quench

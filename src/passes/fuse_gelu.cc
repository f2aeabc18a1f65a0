// The exact GELU as PyTorch exports it (passes/gelu_pattern.h) replaced by one internal Gelu
// node.
#include <algorithm>
#include <cmath>
#include <optional>

#include "ir/graph_index.h"
#include "ops/fused.h"
#include "passes/gelu_pattern.h"
#include "passes/runtime_passes.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_scalar(const Graph& g, const std::string& value, double want) {
  const Tensor* t = g.initializer(value);
  if (t == nullptr || t->numel() != 1 || t->dtype() != DType::kFloat32) return false;
  return std::abs(t->data<float>()[0] - want) <= 1e-4 * std::abs(want);
}

// The input of binary `node` other than `value`, or "" when `value` is not one of them.
std::string other_input(const Node& node, const std::string& value) {
  if (node.inputs.size() != 2) return "";
  if (node.inputs[0] == value) return node.inputs[1];
  if (node.inputs[1] == value) return node.inputs[0];
  return "";
}

// The only node reading `value` if it has op `op_type`, else -1.
int sole_consumer(const GraphIndex& index, const Graph& g, const std::string& value,
                  const char* op_type) {
  if (!index.single_use(value)) return -1;
  const int c = index.consumers(value)[0];
  const Node& n = g.nodes[c];
  return n.domain.empty() && n.op_type == op_type ? c : -1;
}

bool fuse_one(Graph& g) {
  GraphIndex index(g);
  for (size_t e = 0; e < g.nodes.size(); ++e) {
    const std::optional<GeluPattern> p = match_gelu(g, index, e);
    if (!p) continue;
    const int erf = p->nodes[1], h = p->nodes[4];
    Node gelu;
    gelu.op_type = "Gelu";
    gelu.domain = kInternalDomain;
    gelu.name = g.nodes[erf].name.empty() ? g.nodes[h].outputs[0] : g.nodes[erf].name + "_gelu";
    gelu.inputs = {p->x};
    gelu.outputs = {g.nodes[h].outputs[0]};
    g.opsets[kInternalDomain] = g.opset("");
    // The four nodes before the last go; the last becomes the Gelu.
    std::vector<int> drop(p->nodes.begin(), p->nodes.end() - 1);
    for (int dead : drop) g.values.erase(g.nodes[dead].outputs[0]);
    g.nodes[h] = std::move(gelu);
    std::sort(drop.rbegin(), drop.rend());
    for (int i : drop) g.nodes.erase(g.nodes.begin() + i);
    return true;
  }
  return false;
}

}  // namespace

std::optional<GeluPattern> match_gelu(const Graph& g, const GraphIndex& index, size_t e) {
  const Node& erf = g.nodes[e];
  if (erf.op_type != "Erf" || !erf.domain.empty()) return std::nullopt;
  const int d = index.producer(erf.input(0));
  if (d < 0 || !index.single_use(erf.input(0))) return std::nullopt;
  const Node& scale = g.nodes[d];
  const std::string x = scale.input(0);
  const bool divides = scale.op_type == "Div" && is_scalar(g, scale.input(1), std::sqrt(2.0));
  const bool multiplies =
      scale.op_type == "Mul" && is_scalar(g, other_input(scale, x), 1.0 / std::sqrt(2.0));
  if (!scale.domain.empty() || !(divides || multiplies)) return std::nullopt;
  const int a = sole_consumer(index, g, erf.outputs[0], "Add");
  if (a < 0 || !is_scalar(g, other_input(g.nodes[a], erf.outputs[0]), 1.0)) return std::nullopt;
  const int m = sole_consumer(index, g, g.nodes[a].outputs[0], "Mul");
  if (m < 0 || other_input(g.nodes[m], g.nodes[a].outputs[0]) != x) return std::nullopt;
  const int h = sole_consumer(index, g, g.nodes[m].outputs[0], "Mul");
  if (h < 0 || !is_scalar(g, other_input(g.nodes[h], g.nodes[m].outputs[0]), 0.5)) {
    return std::nullopt;
  }
  return GeluPattern{x, {d, static_cast<int>(e), a, m, h}};
}

int fuse_gelu(Graph& graph) {
  int fused = 0;
  while (fuse_one(graph)) ++fused;
  if (fused) topological_sort(graph);
  return fused;
}

}  // namespace quench

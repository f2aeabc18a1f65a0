// MatMulInteger → Cast(to float) → Mul(·, s) [→ Add(·, bias)] → one com.microsoft
// MatMulIntegerToFloat (eq. (155)): the chain a dynamic quantizer writes for every linear layer
// (DynamicQuantizeLinear gives A, s is s_a · s_b). One node takes the int32 sums straight to
// float: oneDNN applies the scales and the bias to its accumulators instead of four passes over
// the output. The Mul's other operand holds one value or one per column ([N]); the bias is a
// constant [N]. s becomes a_scale (b_scale a constant 1) or, per column, b_scale (a_scale 1):
// the product s · 1 is s, so the fused node computes the chain's floats exactly.
#include <algorithm>

#include "ir/graph_index.h"
#include "ir/shape_util.h"
#include "ops/domains.h"
#include "passes/runtime_passes.h"
#include "quench/passes.h"

namespace quench {
namespace {

// The single node reading `value` when it is `op_type` of the default domain, else -1.
int only_reader(const Graph& g, const GraphIndex& index, const std::string& value,
                const char* op_type) {
  if (!index.single_use(value)) return -1;
  const int c = index.consumers(value)[0];
  const Node& n = g.nodes[c];
  return n.op_type == op_type && n.domain.empty() ? c : -1;
}

// The operand of a two-input node other than `value`, or "" when both are `value`.
std::string other_operand(const Node& n, const std::string& value) {
  if (n.inputs.size() != 2 || n.input(0) == n.input(1)) return "";
  return n.input(0) == value ? n.input(1) : n.input(0);
}

// A float scalar 1 shared by every fused node (the scale the chain does not have).
std::string one(Graph& g) {
  std::string name = "matmul_integer_to_float_one";
  for (;; name += "_") {
    const Tensor* t = g.initializer(name);
    if (t && t->dtype() == DType::kFloat32 && t->numel() == 1 && t->data<float>()[0] == 1.f) {
      return name;
    }
    if (!t && !g.info(name)) break;
  }
  g.initializers[name] = Tensor::scalar(1.f);
  return name;
}

bool fuse_one(Graph& g) {
  GraphIndex index(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& mm = g.nodes[i];
    if (mm.op_type != "MatMulInteger" || !mm.domain.empty() || mm.outputs.size() != 1) continue;
    const auto y_shape = value_shape(g, mm.outputs[0]);
    if (!y_shape || y_shape->empty()) continue;
    const int64_t n = y_shape->back();
    const int cast = only_reader(g, index, mm.outputs[0], "Cast");
    if (cast < 0 || g.nodes[cast].attr_int("to", 0) != static_cast<int64_t>(DType::kFloat32)) {
      continue;
    }
    const std::string& cast_out = g.nodes[cast].outputs[0];
    const int mul = only_reader(g, index, cast_out, "Mul");
    if (mul < 0) continue;
    const std::string scale = other_operand(g.nodes[mul], cast_out);
    const auto scale_shape = scale.empty() ? std::nullopt : value_shape(g, scale);
    if (!scale_shape || value_type(g, scale) != DType::kFloat32) continue;
    const bool per_tensor = shape_numel(*scale_shape) == 1 && scale_shape->size() <= 1;
    if (!per_tensor && *scale_shape != Shape{n}) continue;
    const std::string& mul_out = g.nodes[mul].outputs[0];
    int add = only_reader(g, index, mul_out, "Add");
    std::string bias;
    if (add >= 0) {
      bias = other_operand(g.nodes[add], mul_out);
      const Tensor* b = bias.empty() ? nullptr : g.initializer(bias);
      if (!b || b->dtype() != DType::kFloat32 || b->shape() != Shape{n}) {
        add = -1;
        bias.clear();
      }
    }
    Node fused;
    fused.op_type = "MatMulIntegerToFloat";
    fused.domain = kMsDomain;
    fused.name = mm.name.empty() ? mm.outputs[0] : mm.name;
    const std::string unit = one(g);
    fused.inputs = {mm.input(0),
                    mm.input(1),
                    per_tensor ? scale : unit,
                    per_tensor ? unit : scale,
                    mm.inputs.size() > 2 ? mm.input(2) : "",
                    mm.inputs.size() > 3 ? mm.input(3) : "",
                    bias};
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    const int last = add >= 0 ? add : mul;
    fused.outputs = {g.nodes[last].outputs[0]};
    if (g.opsets.find(kMsDomain) == g.opsets.end()) g.opsets[kMsDomain] = 1;
    for (const std::string& gone : {mm.outputs[0], cast_out}) g.values.erase(gone);
    if (add >= 0) g.values.erase(mul_out);
    g.nodes[last] = std::move(fused);
    std::vector<size_t> erase = {i, static_cast<size_t>(cast)};
    if (add >= 0) erase.push_back(static_cast<size_t>(mul));
    std::sort(erase.rbegin(), erase.rend());
    for (size_t e : erase) g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(e));
    return true;
  }
  return false;
}

}  // namespace

int fuse_matmul_integer_to_float(Graph& graph) {
  int fused = 0;
  while (fuse_one(graph)) ++fused;
  if (fused) topological_sort(graph);
  return fused;
}

}  // namespace quench

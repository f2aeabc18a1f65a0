#include "quant/lowbit/layer_graph.h"

#include <algorithm>

#include "ir/graph_index.h"

namespace quench::quant::lowbit {

std::string bias_of(const Graph& g, const Node& node) {
  if (node.op_type != "Conv" && node.op_type != "Gemm") return "";
  if (!node.has_input(2)) return "";
  const Tensor* b = g.initializer(node.input(2));
  if (b == nullptr || b->dtype() != DType::kFloat32 || b->rank() != 1) return "";
  if (node.op_type == "Gemm" &&
      (node.attr_float("alpha", 1.f) != 1.f || node.attr_float("beta", 1.f) != 1.f)) {
    return "";
  }
  return node.input(2);
}

int add_zero_biases(Graph& g) {
  int added = 0;
  for (Node& n : g.nodes) {
    if ((n.op_type != "Conv" && n.op_type != "Gemm") || n.has_input(2)) continue;
    const Tensor* w = n.inputs.size() > 1 ? g.initializer(n.input(1)) : nullptr;
    if (w == nullptr || w->rank() < 2) continue;
    int64_t channels = w->dim(0);
    if (n.op_type == "Gemm") {
      if (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f) continue;
      channels = n.attr_int("transB", 0) != 0 ? w->dim(0) : w->dim(1);
    }
    const std::string name = g.unique_name(n.name + "_bias");
    g.initializers[name] = Tensor::zeros(DType::kFloat32, {channels});
    g.values[name] = ValueInfo{DType::kFloat32, symbolic(Shape{channels}), ""};
    n.inputs.resize(3);
    n.inputs[2] = name;
    if (n.op_type == "Gemm") n.set_attr("beta", 1.f);
    ++added;
  }
  return added;
}

void fused_activation(const Graph& g, size_t i, AdaRoundOptions& o) {
  const GraphIndex index(g);
  const std::string& out = g.nodes[i].outputs[0];
  if (!index.single_use(out)) return;
  const Node& act = g.nodes[index.consumers(out)[0]];
  if (act.op_type == "Relu") {
    o.act_lo = 0.f;
  } else if (act.op_type == "Clip") {
    auto bound = [&](size_t k, float fallback) {
      const Tensor* t = act.has_input(k) ? g.initializer(act.input(k)) : nullptr;
      return t != nullptr && t->numel() == 1 ? static_cast<float>(t->to_double_vector()[0])
                                             : fallback;
    };
    o.act_lo = bound(1, o.act_lo);
    o.act_hi = bound(2, o.act_hi);
  }
}

}  // namespace quench::quant::lowbit

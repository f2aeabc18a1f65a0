// bfloat16 products on CPUs with a native bfloat16 dot product (docs/quantization.md, eq. (158)).
// A --mode bf16 file rounds each product operand with a Cast to bfloat16 and back to float32;
// the product then reads the bfloat16 value itself (its constant float32 weights are bfloat16
// values, which oneDNN packs to bfloat16 exactly), and a product whose only reader is a Cast to
// bfloat16 writes bfloat16 directly. The results are those of the float32 product of the same
// values, summed in another order.
#include <set>

#include "core/half.h"
#include "ir/graph_index.h"
#include "ops/fused.h"
#include "passes/runtime_passes.h"

namespace quench {
namespace {

bool is_cast_to(const Node& node, DType to) {
  return node.op_type == "Cast" && node.domain.empty() &&
         node.attr_int("to", 0) == static_cast<int64_t>(to);
}

// Conv, Gemm, MatMul or their fused forms; the base op's name, else "".
std::string product_op(const Node& node) {
  if (node.domain.empty()) return fused_op_for(node.op_type).empty() ? "" : node.op_type;
  if (node.domain != kInternalDomain || node.op_type.rfind("Fused", 0) != 0) return "";
  const std::string base = node.op_type.substr(5);
  return fused_op_for(base) == node.op_type ? base : "";
}

class Bf16Operands {
 public:
  explicit Bf16Operands(Graph& g) : g_(g), index_(g) {}

  int run() {
    int changed = 0;
    for (Node& node : g_.nodes) {
      const std::string op = product_op(node);
      if (op.empty() || node.inputs.size() < 2) continue;
      std::string rounded[2];
      bool ok = true;
      for (size_t k = 0; k < 2 && ok; ++k) {
        const std::string& v = node.inputs[k];
        rounded[k] = rounded_source(v);
        // Weights stay float32 constants when they are bfloat16 values; Conv and Gemm need them
        // constant, MatMul reads a rounded activation there too.
        const bool weight = k == 1 && bf16_constant(v);
        ok = k == 0 ? !rounded[0].empty() : weight || (op == "MatMul" && !rounded[1].empty());
      }
      // alpha·B of a Gemm need not be bfloat16 values: that one stays float32.
      if (!ok || node.attr_int("to", 1) != 1 || node.attr_float("alpha", 1.f) != 1.f) continue;
      for (size_t k = 0; k < 2; ++k) {
        if (!rounded[k].empty()) node.inputs[k] = rounded[k];
      }
      make_fused(node, g_);
      ++changed;
    }
    return changed;
  }

 private:
  // The bfloat16 value `v` is a Cast to float32 of, else "".
  std::string rounded_source(const std::string& v) const {
    const int p = index_.producer(v);
    if (p < 0 || !is_cast_to(g_.nodes[p], DType::kFloat32)) return "";
    const std::string& from = g_.nodes[p].input(0);
    return value_type(g_, from) == DType::kBFloat16 ? from : "";
  }

  bool bf16_constant(const std::string& v) const {
    const Tensor* t = g_.initializer(v);
    return t != nullptr && t->dtype() == DType::kFloat32 &&
           all_bfloat16_exact(t->data<float>(), t->numel());
  }

  Graph& g_;
  GraphIndex index_;
};

// A fused product on bfloat16 operands whose only reader is a Cast to bfloat16 writes bfloat16
// itself (one at a time: the index is rebuilt after each).
bool absorb_one_cast(Graph& g) {
  GraphIndex index(g);
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& cast = g.nodes[i];
    if (!is_cast_to(cast, DType::kBFloat16)) continue;
    const int p = index.producer(cast.input(0));
    if (p < 0 || !index.single_use(cast.input(0))) continue;
    Node& prod = g.nodes[p];
    if (prod.domain != kInternalDomain || product_op(prod).empty()) continue;
    const FusedInfo info = fused_info(prod);
    // Only products on bfloat16 operands: oneDNN's float32 kernels may lack a bfloat16 output.
    if (info.sum_input >= 0 || info.output_type != DType::kFloat32 ||
        value_type(g, prod.input(0)) != DType::kBFloat16) {
      continue;
    }
    prod.set_attr("to", static_cast<int64_t>(DType::kBFloat16));
    g.values.erase(prod.outputs[0]);
    prod.outputs[0] = cast.outputs[0];
    g.nodes.erase(g.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    return true;
  }
  return false;
}

}  // namespace

int read_bfloat16_operands(Graph& graph) { return Bf16Operands(graph).run(); }

int write_bfloat16_results(Graph& graph) {
  int absorbed = 0;
  while (absorb_one_cast(graph)) ++absorbed;
  return absorbed;
}

}  // namespace quench

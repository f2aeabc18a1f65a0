#include "quench/inspect.h"

#include <map>

#include "core/check.h"
#include "passes/runtime_passes.h"
#include "runtime/kernel_registry.h"
#include "runtime/session_graph.h"

namespace quench {

std::vector<OpSupport> supported_ops() {
  std::vector<OpSupport> out;
  for (const OpDef* def : kernel_registry().all()) {
    OpSupport op{def->domain.empty() ? "ai.onnx" : def->domain, def->op_type, def->min_opset, {}};
    for (const FastKernel& fast : def->fast) {
      // A backend may register several kernels for one op ("onednn", "onednn-int8").
      const std::string backend = fast.name.substr(0, fast.name.find('-'));
      if (op.fast_kernels.empty() || op.fast_kernels.back() != backend) {
        op.fast_kernels.push_back(backend);
      }
    }
    out.push_back(std::move(op));
  }
  return out;
}

std::vector<UnsupportedNode> unsupported_nodes(const Graph& graph) {
  std::vector<UnsupportedNode> out;
  for (const Node& node : graph.nodes) {
    std::string why = unsupported_reason(node, graph);
    if (why.empty()) continue;
    out.push_back(UnsupportedNode{node.name, node.op_type,
                                  node.domain.empty() ? "ai.onnx" : node.domain, std::move(why)});
  }
  return out;
}

bool is_qdq_graph(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    if (node.domain.empty() &&
        (node.op_type == "QuantizeLinear" || node.op_type == "DequantizeLinear")) {
      return true;
    }
  }
  return false;
}

LoweringReport qdq_lowering(const Graph& graph) {
  Graph g = graph;
  prepare_session_graph(g, true);
  std::map<std::string, Shape> shapes;
  for (const auto& name : g.inputs) {
    const ValueInfo* info = g.info(name);
    QUENCH_CHECK(info && info->shape, ErrorKind::kUnsupported, "input '{}' has no declared shape",
                 name);
    Shape shape;
    for (const Dim& d : *info->shape) shape.push_back(d.known() ? d.value : 1);
    shapes[name] = shape;
  }
  specialize_input_shapes(g, shapes);
  return lower_qdq(g);
}

}  // namespace quench

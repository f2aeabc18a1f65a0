#include "quench/inspect.h"

#include <map>
#include <optional>

#include "core/check.h"
#include "passes/runtime_passes.h"
#include "quench/session.h"
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

namespace {

// The declared input shapes with unknown dims set to 1; nullopt when an input has no shape.
std::optional<std::vector<Shape>> batch_one_shapes(const Graph& graph) {
  std::vector<Shape> shapes;
  for (const auto& name : graph.inputs) {
    const ValueInfo* info = graph.info(name);
    if (info == nullptr || !info->shape) return std::nullopt;
    Shape shape;
    for (const Dim& d : *info->shape) shape.push_back(d.known() ? d.value : 1);
    shapes.push_back(std::move(shape));
  }
  return shapes;
}

}  // namespace

std::vector<GraphProblem> model_problems(const Model& model) {
  std::vector<GraphProblem> problems = graph_problems(model.graph);
  const bool broken = !problems.empty();
  for (const UnsupportedNode& u : unsupported_nodes(model.graph)) {
    problems.push_back(GraphProblem{
        ErrorKind::kUnsupported, u.node, "",
        fmt::format("node '{}' ({}, domain {}): {}", u.node, u.op_type, u.domain, u.reason)});
  }
  if (broken) return problems;  // shapes cannot be inferred on a broken graph
  Graph inferred = model.graph;
  infer_shapes(inferred, InferOptions{true, &problems});
  if (!problems.empty()) return problems;
  try {
    const Session session(model, SessionOptions{1});
    if (auto shapes = batch_one_shapes(session.graph())) session.plan_steps(*shapes);
  } catch (const Error& e) {
    problems.push_back(GraphProblem{e.kind(), "", "", e.what()});
  }
  return problems;
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

// What quench can run and how it will run a model: the ops it supports, the nodes of a model it
// cannot run (and why), and what the lowering of a QDQ model onto integer ops does.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/graph.h"
#include "quench/passes.h"

namespace quench {

struct OpSupport {
  std::string domain;  // "ai.onnx", "com.microsoft", "quench.internal"
  std::string op_type;
  int64_t since_opset = 1;                // oldest opset version whose semantics are implemented
  std::vector<std::string> fast_kernels;  // backends with a faster kernel ("onednn", "x86")
};

// Every op quench runs, sorted by domain and type.
std::vector<OpSupport> supported_ops();

struct UnsupportedNode {
  std::string node;
  std::string op_type;
  std::string domain;
  std::string reason;  // unknown op or domain, or an opset older than quench implements
};

// The nodes of `graph` quench cannot run; empty when it runs them all.
std::vector<UnsupportedNode> unsupported_nodes(const Graph& graph);

// Every reason quench cannot run `model`, in the order a session meets them: the structure
// (graph_problems: dangling inputs, cycles, ...), unsupported nodes (kUnsupported), shape
// inference node by node; then, when those pass, the session's own preparation and a plan for
// the declared input shapes with unknown dims set to 1, which finds what only concrete shapes
// reveal (a kernel larger than its input, a buffer over the limits of quench/limits.h).
// Empty when quench can run the model.
std::vector<GraphProblem> model_problems(const Model& model);

// Whether `graph` holds QuantizeLinear / DequantizeLinear nodes (a QDQ model).
bool is_qdq_graph(const Graph& graph);

// The lowering a session applies to `graph` (a QDQ model), planned with every unknown input dim
// set to 1. kUnsupported when an input has no declared shape.
LoweringReport qdq_lowering(const Graph& graph);

}  // namespace quench

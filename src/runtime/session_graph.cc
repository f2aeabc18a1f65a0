#include "runtime/session_graph.h"

#include <string>
#include <vector>

#include "core/check.h"
#include "ops/op_registry.h"
#include "passes/runtime_passes.h"
#include "quench/passes.h"

namespace quench {

void prepare_session_graph(Graph& g, bool optimize) {
  verify_graph(g);
  topological_sort(g);
  widen_packed_integers(g);  // INT4 weights run as int8 ones
  std::vector<std::string> problems;
  for (const Node& node : g.nodes) {
    std::string why = unsupported_reason(node, g);
    if (!why.empty()) problems.push_back(fmt::format("{}: {}", node.describe(), why));
  }
  if (!problems.empty()) {
    std::string list;
    for (const auto& p : problems) list += "\n  " + p;
    fail(ErrorKind::kUnsupported, "the model has {} node(s) quench cannot run:{}", problems.size(),
         list);
  }
  compute_half_in_float(g);
  infer_shapes(g, InferOptions{true});
  fold_constants(g);
  eliminate_dead_nodes(g);
  if (optimize) apply_graph_optimizations(g);
}

}  // namespace quench

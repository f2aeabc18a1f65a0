#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "quench/passes.h"

namespace quench {

void verify_graph(const Graph& graph) {
  // Who defines each value: "graph input", "initializer" or a node.
  std::unordered_map<std::string, std::string> defined_by;
  auto define = [&](const std::string& name, std::string by) {
    auto [it, inserted] = defined_by.emplace(name, by);
    QUENCH_CHECK(inserted, ErrorKind::kInvalidModel, "value '{}' is defined twice: by {} and by {}",
                 name, it->second, by);
  };
  for (const auto& in : graph.inputs) define(in, "graph input");
  for (const auto& [name, _] : graph.initializers) define(name, "initializer");
  std::unordered_map<std::string, size_t> producer_index;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      define(out, node.describe());
      producer_index[out] = i;
    }
  }
  std::unordered_set<std::string> node_names;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    for (const auto& in : node.inputs) {
      if (in.empty()) continue;
      QUENCH_CHECK(defined_by.count(in) != 0, ErrorKind::kInvalidModel,
                   "{} reads value '{}', which no node, graph input or initializer produces",
                   node.describe(), in);
      auto p = producer_index.find(in);
      QUENCH_CHECK(p == producer_index.end() || p->second != i, ErrorKind::kInvalidModel,
                   "{} reads its own output '{}' (a cycle)", node.describe(), in);
    }
  }
  for (const auto& out : graph.outputs) {
    QUENCH_CHECK(defined_by.count(out) != 0, ErrorKind::kInvalidModel,
                 "graph output '{}' is not produced by any node, input or initializer", out);
  }
  QUENCH_CHECK(!graph.outputs.empty(), ErrorKind::kInvalidModel, "the graph has no outputs");
  // Acyclic: a topological sort of a copy must succeed.
  Graph copy;
  copy.nodes = graph.nodes;
  topological_sort(copy);
}

}  // namespace quench

// Producer and consumer lookups for graph rewrites (rebuilt after each structural change).
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "quench/graph.h"

namespace quench {

class GraphIndex {
 public:
  explicit GraphIndex(const Graph& graph);

  // Index of the node producing `value`, or -1 (graph input, initializer).
  int producer(const std::string& value) const;
  // Indices of nodes reading `value` (once per reading node).
  const std::vector<int>& consumers(const std::string& value) const;
  bool is_graph_output(const std::string& value) const;
  // Whether `value` feeds exactly one node and is not a graph output: it may be fused away.
  bool single_use(const std::string& value) const;

 private:
  std::unordered_map<std::string, int> producer_;
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::unordered_map<std::string, bool> outputs_;
};

// A value's element type and shape as a rewrite sees them: its initializer's, else its
// ValueInfo's (kUndefined, or nullopt for an unknown or symbolic shape).
DType value_type(const Graph& graph, const std::string& value);
std::optional<Shape> value_shape(const Graph& graph, const std::string& value);

}  // namespace quench

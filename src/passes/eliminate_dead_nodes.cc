#include <unordered_map>
#include <unordered_set>

#include "quench/passes.h"

namespace quench {

int eliminate_dead_nodes(Graph& graph) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (const auto& out : graph.nodes[i].outputs) {
      if (!out.empty()) producer[out] = i;
    }
  }
  std::vector<bool> live(graph.nodes.size(), false);
  std::unordered_set<std::string> used(graph.outputs.begin(), graph.outputs.end());
  std::vector<std::string> work(graph.outputs.begin(), graph.outputs.end());
  while (!work.empty()) {
    const std::string value = std::move(work.back());
    work.pop_back();
    auto it = producer.find(value);
    if (it == producer.end() || live[it->second]) continue;
    live[it->second] = true;
    for (const auto& in : graph.nodes[it->second].inputs) {
      if (!in.empty() && used.insert(in).second) work.push_back(in);
    }
  }
  std::vector<Node> kept;
  int removed = 0;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    if (live[i]) {
      kept.push_back(std::move(graph.nodes[i]));
    } else {
      ++removed;
    }
  }
  graph.nodes = std::move(kept);
  for (auto it = graph.initializers.begin(); it != graph.initializers.end();) {
    it = used.count(it->first) ? std::next(it) : graph.initializers.erase(it);
  }
  std::unordered_set<std::string> named(graph.inputs.begin(), graph.inputs.end());
  for (const Node& n : graph.nodes) named.insert(n.outputs.begin(), n.outputs.end());
  for (const auto& [k, _] : graph.initializers) named.insert(k);
  for (auto it = graph.values.begin(); it != graph.values.end();) {
    it = named.count(it->first) ? std::next(it) : graph.values.erase(it);
  }
  return removed;
}

}  // namespace quench

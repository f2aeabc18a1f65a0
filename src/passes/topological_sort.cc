#include <algorithm>
#include <unordered_map>

#include "core/check.h"
#include "quench/passes.h"

namespace quench {

void topological_sort(Graph& graph) {
  const size_t n = graph.nodes.size();
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& out : graph.nodes[i].outputs) {
      if (!out.empty()) producer.emplace(out, i);
    }
  }
  std::vector<std::vector<size_t>> consumers(n);
  std::vector<size_t> pending(n, 0);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& in : graph.nodes[i].inputs) {
      auto it = in.empty() ? producer.end() : producer.find(in);
      if (it == producer.end()) continue;
      consumers[it->second].push_back(i);
      ++pending[i];
    }
  }
  // Kahn's algorithm with a min-heap on the original index, so that a graph already in order
  // keeps its order.
  auto later = [](size_t a, size_t b) { return a > b; };
  std::vector<size_t> heap;
  for (size_t i = 0; i < n; ++i) {
    if (pending[i] == 0) heap.push_back(i);
  }
  std::make_heap(heap.begin(), heap.end(), later);
  std::vector<size_t> order;
  order.reserve(n);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const size_t i = heap.back();
    heap.pop_back();
    order.push_back(i);
    for (size_t c : consumers[i]) {
      if (--pending[c] == 0) {
        heap.push_back(c);
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
  }
  if (order.size() != n) {
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] != 0) {
        fail(ErrorKind::kInvalidModel,
             "the graph has a cycle through {} (input '{}' depends on "
             "the node's own output)",
             graph.nodes[i].describe(),
             graph.nodes[i].inputs.empty() ? "" : graph.nodes[i].inputs[0]);
      }
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(n);
  for (size_t i : order) sorted.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(sorted);
}

}  // namespace quench

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "core/check.h"
#include "quench/passes.h"

namespace quench {
namespace {

// The nodes on a cycle, or between two cycles: what Kahn's algorithm cannot order, less the
// nodes that only depend on a cycle (peeled from the end, as no node left reads them).
std::vector<size_t> nodes_on_cycles(const Graph& graph) {
  const size_t n = graph.nodes.size();
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < n; ++i) {
    for (const auto& out : graph.nodes[i].outputs) {
      if (!out.empty()) producer.emplace(out, i);
    }
  }
  std::vector<std::vector<size_t>> consumers(n), producers(n);
  for (size_t i = 0; i < n; ++i) {
    for (const auto& in : graph.nodes[i].inputs) {
      auto it = in.empty() ? producer.end() : producer.find(in);
      if (it == producer.end()) continue;
      consumers[it->second].push_back(i);
      producers[i].push_back(it->second);
    }
  }
  std::vector<size_t> pending(n), queue;
  for (size_t i = 0; i < n; ++i) {
    pending[i] = producers[i].size();
    if (pending[i] == 0) queue.push_back(i);
  }
  std::vector<bool> left(n, true);
  while (!queue.empty()) {
    const size_t i = queue.back();
    queue.pop_back();
    left[i] = false;
    for (size_t c : consumers[i]) {
      if (--pending[c] == 0) queue.push_back(c);
    }
  }
  std::vector<size_t> readers(n, 0);
  for (size_t i = 0; i < n; ++i) {
    if (!left[i]) continue;
    for (size_t c : consumers[i]) readers[i] += left[c];
    if (readers[i] == 0) queue.push_back(i);
  }
  while (!queue.empty()) {
    const size_t i = queue.back();
    queue.pop_back();
    left[i] = false;
    for (size_t p : producers[i]) {
      if (left[p] && --readers[p] == 0) queue.push_back(p);
    }
  }
  std::vector<size_t> out;
  for (size_t i = 0; i < n; ++i) {
    if (left[i]) out.push_back(i);
  }
  return out;
}

}  // namespace

std::vector<GraphProblem> graph_problems(const Graph& graph) {
  std::vector<GraphProblem> problems;
  auto add = [&](std::string node, std::string value, std::string message) {
    problems.push_back(GraphProblem{ErrorKind::kInvalidModel, std::move(node), std::move(value),
                                    std::move(message)});
  };
  // Who defines each value: "graph input", "initializer" or a node.
  std::unordered_map<std::string, std::string> defined_by;
  auto define = [&](const std::string& name, const std::string& by, const std::string& node) {
    auto [it, inserted] = defined_by.emplace(name, by);
    if (!inserted) {
      add(node, name,
          fmt::format("value '{}' is defined twice: by {} and by {}", name, it->second, by));
    }
  };
  for (const auto& in : graph.inputs) define(in, "graph input", "");
  for (const auto& [name, _] : graph.initializers) define(name, "initializer", "");
  std::unordered_map<std::string, size_t> producer_index;
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      define(out, node.describe(), node.describe());
      producer_index.emplace(out, i);
    }
  }
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& node = graph.nodes[i];
    for (const auto& in : node.inputs) {
      if (in.empty()) continue;
      if (defined_by.count(in) == 0) {
        add(node.describe(), in,
            fmt::format("{} reads value '{}', which no node, graph input or initializer produces",
                        node.describe(), in));
        continue;
      }
      auto p = producer_index.find(in);
      if (p != producer_index.end() && p->second == i) {
        add(node.describe(), in,
            fmt::format("{} reads its own output '{}' (a cycle)", node.describe(), in));
      }
    }
  }
  for (const auto& out : graph.outputs) {
    if (defined_by.count(out) == 0) {
      add("", out,
          fmt::format("graph output '{}' is not produced by any node, input or initializer", out));
    }
  }
  if (graph.outputs.empty()) add("", "", "the graph has no outputs");
  std::string cycle;
  size_t on_cycle = 0;
  for (size_t i : nodes_on_cycles(graph)) {
    const Node& node = graph.nodes[i];
    bool self_loop = false;
    for (const auto& out : node.outputs) {
      self_loop |= !out.empty() &&
                   std::find(node.inputs.begin(), node.inputs.end(), out) != node.inputs.end();
    }
    if (self_loop) continue;  // reported above
    if (on_cycle++ < 8) cycle += (cycle.empty() ? "" : ", ") + node.describe();
  }
  if (on_cycle != 0) {
    add(cycle, "",
        fmt::format("the graph has a cycle: {} node(s) read each other's outputs: {}{}", on_cycle,
                    cycle, on_cycle > 8 ? ", ..." : ""));
  }
  return problems;
}

void verify_graph(const Graph& graph) {
  const std::vector<GraphProblem> problems = graph_problems(graph);
  if (problems.empty()) return;
  if (problems.size() == 1) throw Error(problems[0].kind, problems[0].message);
  std::string list;
  for (const GraphProblem& p : problems) list += "\n  " + p.message;
  fail(ErrorKind::kInvalidModel, "the graph has {} problems:{}", problems.size(), list);
}

}  // namespace quench

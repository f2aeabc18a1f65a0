#include "runtime/eager.h"

#include <unordered_map>

#include <fmt/format.h>

#include "ops/evaluate.h"

namespace quench {

bool shapes_are_static(const Graph& graph) {
  for (const Node& node : graph.nodes) {
    for (const auto& out : node.outputs) {
      if (out.empty()) continue;
      const ValueInfo* info = graph.info(out);
      if (!info || info->dtype == DType::kUndefined || !info->shape || !concrete(*info->shape)) {
        return false;
      }
    }
  }
  return true;
}

std::vector<Tensor> run_eager(const Graph& graph, const std::vector<Tensor>& inputs,
                              const RunOptions& options) {
  std::unordered_map<std::string, Tensor> values;
  for (size_t i = 0; i < graph.inputs.size(); ++i) values[graph.inputs[i]] = inputs[i];
  // Values are dropped after their last reader so memory stays bounded.
  std::unordered_map<std::string, size_t> last_use;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    for (const auto& in : graph.nodes[n].inputs) last_use[in] = n;
  }
  for (const auto& out : graph.outputs) last_use[out] = graph.nodes.size();
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    std::vector<const Tensor*> args;
    for (const auto& in : node.inputs) {
      if (in.empty()) {
        args.push_back(nullptr);
      } else if (const Tensor* c = graph.initializer(in)) {
        args.push_back(c);
      } else {
        args.push_back(&values.at(in));
      }
    }
    std::vector<Tensor> outs;
    try {
      outs = evaluate_node(node, graph.opset(node.domain), args);
    } catch (const Error& e) {
      // A value-dependent shape met at run time: say which node asked for it.
      if (e.kind() != ErrorKind::kResource) throw;
      throw Error(e.kind(), fmt::format("{}: {}", node.describe(), e.what()));
    }
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      if (node.outputs[i].empty()) continue;
      if (options.on_tensor) options.on_tensor(node.outputs[i], outs[i]);
      values[node.outputs[i]] = std::move(outs[i]);
    }
    for (const auto& in : node.inputs) {
      auto it = last_use.find(in);
      if (it != last_use.end() && it->second == n) values.erase(in);
    }
  }
  std::vector<Tensor> results;
  for (const auto& out : graph.outputs) {
    const Tensor* c = graph.initializer(out);
    results.push_back(c ? c->clone() : values.at(out));
  }
  return results;
}

}  // namespace quench

#include "ir/graph_index.h"

namespace quench {

GraphIndex::GraphIndex(const Graph& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const Node& n = graph.nodes[i];
    for (const auto& out : n.outputs) {
      if (!out.empty()) producer_[out] = static_cast<int>(i);
    }
    for (const auto& in : n.inputs) {
      if (in.empty()) continue;
      auto& list = consumers_[in];
      if (list.empty() || list.back() != static_cast<int>(i)) list.push_back(static_cast<int>(i));
    }
  }
  for (const auto& out : graph.outputs) outputs_[out] = true;
}

int GraphIndex::producer(const std::string& value) const {
  auto it = producer_.find(value);
  return it == producer_.end() ? -1 : it->second;
}

const std::vector<int>& GraphIndex::consumers(const std::string& value) const {
  static const std::vector<int> kNone;
  auto it = consumers_.find(value);
  return it == consumers_.end() ? kNone : it->second;
}

bool GraphIndex::is_graph_output(const std::string& value) const {
  return outputs_.count(value) != 0;
}

bool GraphIndex::single_use(const std::string& value) const {
  return consumers(value).size() == 1 && !is_graph_output(value);
}

DType value_type(const Graph& graph, const std::string& value) {
  if (const Tensor* t = graph.initializer(value)) return t->dtype();
  const ValueInfo* info = graph.info(value);
  return info ? info->dtype : DType::kUndefined;
}

std::optional<Shape> value_shape(const Graph& graph, const std::string& value) {
  if (const Tensor* t = graph.initializer(value)) return t->shape();
  const ValueInfo* info = graph.info(value);
  return info && info->shape ? concrete(*info->shape) : std::nullopt;
}

}  // namespace quench

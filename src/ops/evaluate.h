// Runs one node with its reference kernel on concrete tensors (constant folding, tests).
#pragma once

#include <vector>

#include "quench/graph.h"

namespace quench {

// `inputs[i]` is nullptr for an absent optional input. Output types and shapes are inferred.
std::vector<Tensor> evaluate_node(const Node& node, int64_t opset,
                                  const std::vector<const Tensor*>& inputs);

}  // namespace quench

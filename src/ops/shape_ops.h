// Shape-manipulation ops (Reshape, Transpose, Concat, Slice, Gather, Shape, ...).
#pragma once

#include "quench/graph.h"

namespace quench {

// The value of a Shape node (with its start/end attributes) for an input of shape `input`.
Tensor evaluate_shape_op(const Node& node, const Shape& input);

}  // namespace quench

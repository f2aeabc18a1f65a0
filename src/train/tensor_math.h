// Small float32 tensor helpers shared by the gradients and the optimizers.
#pragma once

#include <vector>

#include "quench/tensor.h"

namespace quench::train {

// a += b (same shape).
void add_into(Tensor& a, const Tensor& b);
// Sums `grad` (of a broadcast result's shape) down to `shape` (NumPy broadcasting rules): the
// gradient of an input that was broadcast.
Tensor reduce_to_shape(const Tensor& grad, const Shape& shape);
// `t` broadcast to `shape` (NumPy rules), materialised.
Tensor broadcast_to(const Tensor& t, const Shape& shape);

}  // namespace quench::train

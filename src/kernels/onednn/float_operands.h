// Which operand types oneDNN's float products (convolution, matrix product) take.
#pragma once

#include "ops/op_registry.h"

namespace quench::onednn {

// Both float32, or a bfloat16 activation `x` with bfloat16 weights `w` or constant float32
// weights that are all bfloat16 values, which pack to bfloat16 exactly (eq. (158)).
bool float_operands(const TensorDesc& x, const TensorDesc& w);

}  // namespace quench::onednn

#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// Unary float32 activations and math (Relu, LeakyRelu, Sigmoid, Tanh, Clip with constant
// bounds, HardSwish, Elu, Exp, Sqrt, Abs, Neg, Softplus) in the producer's layout.
std::unique_ptr<Kernel> make_eltwise(KernelContext& ctx);
// Add, Sub, Mul, Div, Max, Min of two float32 tensors, the second broadcast onto the first (or
// swapped when the op commutes); blocked layouts when both inputs share the same layout.
std::unique_ptr<Kernel> make_binary(KernelContext& ctx);

}  // namespace quench::onednn

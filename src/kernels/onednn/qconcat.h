#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// com.microsoft QLinearConcat of u8 or s8 inputs with constant parameters, plain layout, any axis:
// an input whose requantization table (eq. (40), f the identity) maps every value to itself is
// copied, the others go through their table. Bit-exact with the reference.
std::unique_ptr<Kernel> make_qlinear_concat(KernelContext& ctx);

}  // namespace quench::onednn

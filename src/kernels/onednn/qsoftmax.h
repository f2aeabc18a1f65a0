#pragma once

#include <memory>

#include "ir/op_registry.h"

namespace quench::onednn {

// com.microsoft QLinearSoftmax of u8 or s8 data with constant parameters, plain layout: the 256
// possible exponentials exp(s_x · (x − max x)) taken from a table made once, the sums formed in the
// reference's order. Bit-exact with the reference (eqs. (41), (58)).
std::unique_ptr<Kernel> make_qlinear_softmax(KernelContext& ctx);

}  // namespace quench::onednn

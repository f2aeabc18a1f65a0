#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// com.microsoft QLinearSoftmax of u8 or s8 data with constant parameters, plain layout: the 256
// possible exponentials exp(s_x · (x − max x)) taken from a table made once; contiguous rows by
// eq. (60) (one division per row, near ties redone by the reference's arithmetic), groups along a
// middle axis with the reference's sums. Bit-exact with the reference (eqs. (41), (58), (60)).
std::unique_ptr<Kernel> make_qlinear_softmax(KernelContext& ctx);

}  // namespace quench::onednn

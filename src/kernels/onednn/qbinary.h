#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// com.microsoft QLinearAdd and QLinearMul of u8 or s8 operands with constant per-tensor
// parameters, bit-exact with the reference (eqs. (38), (35), (56)). Same-shape operands (the
// residual case) are read in the producer's layout when it is dense (see dense_layout), the second
// converted to the first's layout when they differ; the output keeps that layout and may overwrite
// the first operand. One value per channel ([N or 1, C, 1...], a squeeze-excite scale) against a
// channels-last operand is read in that operand's layout; other broadcasting operands in plain
// layout.
std::unique_ptr<Kernel> make_qlinear_binary(KernelContext& ctx);

}  // namespace quench::onednn

#pragma once

#include <memory>

#include "ir/op_registry.h"

namespace quench::onednn {

// com.microsoft QLinearAdd and QLinearMul of same-shape u8 or s8 operands with constant per-tensor
// parameters, bit-exact with the reference (eqs. (38), (35)). The operands are read in the
// producer's layout when it is dense (see dense_layout), the second converted to the first's
// layout when they differ; the output keeps that layout and may overwrite the first operand.
// Broadcasting is left to the reference kernel.
std::unique_ptr<Kernel> make_qlinear_binary(KernelContext& ctx);

}  // namespace quench::onednn

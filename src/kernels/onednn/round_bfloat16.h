#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// RoundBFloat16 in whatever layout the producer chose (a convolution's blocked output stays
// blocked for the next one), in place where the runtime allows; the padding of a blocked layout
// is rounded too (zeros stay zeros).
std::unique_ptr<Kernel> make_round_bfloat16(KernelContext& ctx);

}  // namespace quench::onednn

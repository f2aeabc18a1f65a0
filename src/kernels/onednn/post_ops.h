// Fused epilogues as oneDNN post-ops.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/activation.h"

namespace quench::onednn {

// Appends `act` as one or more eltwise post-ops (HardSigmoid = linear then clip to [0, 1]).
void append_activation(dnnl::post_ops& ops, const Activation& act);

}  // namespace quench::onednn

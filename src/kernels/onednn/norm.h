#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// Softmax and LogSoftmax on float32 (every opset's axis rule, through [outer, axis, inner]).
std::unique_ptr<Kernel> make_softmax(KernelContext& ctx);
// LayerNormalization on float32 with constant scale (and bias) over the normalized dims;
// nullptr when Mean/InvStdDev outputs are requested or scale/bias broadcast differently.
std::unique_ptr<Kernel> make_layer_norm(KernelContext& ctx);

}  // namespace quench::onednn

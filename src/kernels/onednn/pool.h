#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// MaxPool (without the Indices output), AveragePool, GlobalAveragePool and GlobalMaxPool on
// float32, in whatever layout the producer left the input.
std::unique_ptr<Kernel> make_pool(KernelContext& ctx);

}  // namespace quench::onednn

#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// Conv and FusedConv on float32 with constant weights; nullptr for what oneDNN cannot run.
std::unique_ptr<Kernel> make_conv(KernelContext& ctx);

}  // namespace quench::onednn

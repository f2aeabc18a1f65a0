// Cast on oneDNN's reorder, for the conversions the reorder does exactly as ONNX's Cast defines
// them: u8, s8 and s32 to float32 (rounded to nearest, as a C++ conversion rounds) or to a wider
// integer. The reorder reads the producer's layout, so the channels-last int32 output of an int8
// convolution (ConvInteger) becomes plain float in one pass.
#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// nullptr for every other conversion (float to integer truncates in ONNX and saturates nowhere;
// the reference runs it).
std::unique_ptr<Kernel> make_cast(KernelContext& ctx);

}  // namespace quench::onednn

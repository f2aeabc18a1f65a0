#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// MaxPool of u8 or s8 data (without the Indices output) on oneDNN's int8 pooling, which runs in
// channels-last (nhwc): other input layouts are converted first, and the output stays
// channels-last when blocked layouts are allowed. Bit-exact.
std::unique_ptr<Kernel> make_int8_max_pool(KernelContext& ctx);

// com.microsoft QLinearAveragePool with constant parameters on oneDNN's int8 average pooling, the
// requantization applied as a linear post-op before rounding (eq. (55)): within ±1 of the
// reference. Layouts as for make_int8_max_pool; channels_last = 1 inputs are read as they are.
std::unique_ptr<Kernel> make_qlinear_average_pool(KernelContext& ctx);

// com.microsoft QLinearGlobalAveragePool with constant parameters: integer sums per channel and
// eqs. (42), (57), bit-exact; the internal DequantizeGlobalAveragePool likewise (eq. (152)). Reads
// plain (either channels attribute) and channels-last inputs, other layouts converted to
// channels-last first; the output [N, C, 1, 1] is plain.
std::unique_ptr<Kernel> make_qlinear_global_average_pool(KernelContext& ctx);

}  // namespace quench::onednn

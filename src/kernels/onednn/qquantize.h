#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// QuantizeLinear of float32 data to u8 or s8 and DequantizeLinear of u8 or s8 data, plain layout,
// constant parameters per tensor or per axis (one loop over each channel's contiguous run):
// bit-exact with the reference (eqs. (31), (32)).
std::unique_ptr<Kernel> make_quantize_linear(KernelContext& ctx);
std::unique_ptr<Kernel> make_dequantize_linear(KernelContext& ctx);

// DynamicQuantizeLinear of float32 data (eq. (37)): the range and then the quantization as two
// vectorized loops, bit-exact with the reference (NaN and infinities included).
std::unique_ptr<Kernel> make_dynamic_quantize_linear(KernelContext& ctx);

}  // namespace quench::onednn

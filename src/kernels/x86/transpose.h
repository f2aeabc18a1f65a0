#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::x86 {

// ONNX Transpose of any element type of 1, 2, 4 or 8 bytes (float and 8-bit data alike), plain
// layout: the permutation simplified to as few dims as possible, then either contiguous runs
// copied whole or, when the innermost dim moves, cache-sized tiles transposed. Bit-exact (it moves
// bytes).
std::unique_ptr<Kernel> make_transpose(KernelContext& ctx);

// The same loops converting values between plain and permuted layouts (channels last); nullptr
// for another backend's layout.
std::unique_ptr<Kernel> make_layout_transpose(DType dtype, const Shape& shape, const Layout& from,
                                              const Layout& to);

}  // namespace quench::x86

#pragma once

#include <memory>

#include "ops/op_registry.h"

namespace quench::onednn {

// QLookup (quench.internal, ops/qlookup.cc) with a constant table: y[i] = table[x[i] − q_min] for
// 8-bit x and y, 64 values per step where the CPU has AVX-512 VBMI byte permutes, one at a time
// elsewhere; bit-exact with the reference. Reads x in any dense layout (see dense_layout), which
// the output keeps, and may overwrite x.
std::unique_ptr<Kernel> make_qlookup(KernelContext& ctx);

}  // namespace quench::onednn

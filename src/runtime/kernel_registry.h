// The registry sessions choose kernels from: every built-in op (ops/op_registry.h) with the fast
// kernels of every backend compiled in, registered here and nowhere else.
#pragma once

#include "ops/op_registry.h"

namespace quench {

const OpRegistry& kernel_registry();

// A kernel converting `dtype` values of `shape` between two layouts (at least one not plain): the
// backends' conversions first (oneDNN's reorders, then quench's transposes), else the layouts'
// own. kUnsupported when none can.
std::unique_ptr<Kernel> make_reorder_kernel(DType dtype, const Shape& shape, const Layout& from,
                                            const Layout& to);

}  // namespace quench

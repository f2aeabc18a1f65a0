// The registry sessions choose kernels from: every built-in op (ops/op_registry.h) with the fast
// kernels of every backend compiled in, registered here and nowhere else.
#pragma once

#include "ops/op_registry.h"

namespace quench {

const OpRegistry& kernel_registry();

}  // namespace quench

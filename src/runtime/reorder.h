// Layout conversion kernels, provided by the backend that defines blocked layouts.
#pragma once

#include <memory>

#include "quench/tensor.h"
#include "runtime/kernel.h"
#include "runtime/layout.h"

namespace quench {

std::unique_ptr<Kernel> make_reorder_kernel(DType dtype, const Shape& shape, const Layout& from,
                                            const Layout& to);

}  // namespace quench

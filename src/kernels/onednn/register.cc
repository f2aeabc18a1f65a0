#include "ir/op_registry.h"
#include "kernels/onednn/kernels.h"
#include "ops/register.h"

namespace quench {

void register_fast_kernels(OpRegistry& r) { onednn::register_kernels(r); }

}  // namespace quench

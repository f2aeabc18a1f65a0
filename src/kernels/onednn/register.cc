#include "ops/register.h"
#include "ir/op_registry.h"
#include "kernels/onednn/kernels.h"

namespace quench {

void register_fast_kernels(OpRegistry& r) { onednn::register_kernels(r); }

}  // namespace quench

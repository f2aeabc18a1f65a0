#include "ir/op_registry.h"
#include "ops/register.h"

namespace quench {

void register_pool_ops(OpRegistry&) {}

}  // namespace quench

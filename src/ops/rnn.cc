#include "ir/op_registry.h"
#include "ops/register.h"

namespace quench {

void register_rnn_ops(OpRegistry&) {}

}  // namespace quench

#include "kernels/onednn/kernels.h"

#include "ir/op_registry.h"

namespace quench::onednn {

void register_kernels(OpRegistry&) {}

}  // namespace quench::onednn

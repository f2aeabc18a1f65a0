#include "kernels/onednn/kernels.h"

#include "ir/op_registry.h"
#include "kernels/onednn/conv.h"
#include "ops/fused.h"

namespace quench::onednn {

void register_kernels(OpRegistry& r) {
  r.add_fast(kInternalDomain, "FusedConv", {"onednn", make_conv, true});
}

}  // namespace quench::onednn

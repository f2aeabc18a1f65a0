#include "ops/register.h"
#include "ir/op_registry.h"
#include "kernels/onednn/kernels.h"
#include "kernels/onednn/qconv.h"
#include "kernels/onednn/qmatmul.h"
#include "ops/fused.h"

namespace quench {

void register_fast_kernels(OpRegistry& r) {
  onednn::register_kernels(r);
  // int8: convolutions keep their channels-last activations between them.
  r.add_fast("", "QLinearConv", {"onednn", onednn::make_qconv, true});
  r.add_fast(kInternalDomain, "QFusedConv", {"onednn", onednn::make_qconv, true});
  r.add_fast("", "QLinearMatMul", {"onednn", onednn::make_qmatmul, false});
  r.add_fast(kInternalDomain, "QFusedMatMul", {"onednn", onednn::make_qmatmul, false});
  r.add_fast("com.microsoft", "QGemm", {"onednn", onednn::make_qgemm, false});
}

}  // namespace quench

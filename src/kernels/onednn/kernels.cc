#include "kernels/onednn/kernels.h"

#include "ir/op_registry.h"
#include "kernels/onednn/conv.h"
#include "kernels/onednn/matmul.h"
#include "ops/fused.h"

namespace quench::onednn {

void register_kernels(OpRegistry& r) {
  r.add_fast(kInternalDomain, "FusedConv", {"onednn", make_conv, true});
  r.add_fast("", "Gemm", {"onednn", make_gemm, false});
  r.add_fast(kInternalDomain, "FusedGemm", {"onednn", make_gemm, false});
  r.add_fast("", "MatMul", {"onednn", make_matmul, false});
  r.add_fast(kInternalDomain, "FusedMatMul", {"onednn", make_matmul, false});
}

}  // namespace quench::onednn

#include "ir/op_registry.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_matmul.h"
#include "kernels/x86/kernels.h"
#include "ops/fused.h"

namespace quench::x86 {

void register_int8_kernels(OpRegistry& r) {
  if (!cpu_features().avx2) return;
  constexpr char kMs[] = "com.microsoft";
  // Convolutions read and write activations channels last (as oneDNN's do) between them.
  r.add_fast("", "QLinearConv", {"x86", make_qconv, true});
  r.add_fast(kInternalDomain, "QFusedConv", {"x86", make_qconv, true});
  r.add_fast("", "ConvInteger", {"x86", make_conv_integer, true});
  r.add_fast("", "QLinearMatMul", {"x86", make_qmatmul, false});
  r.add_fast(kInternalDomain, "QFusedMatMul", {"x86", make_qmatmul, false});
  r.add_fast("", "MatMulInteger", {"x86", make_matmul_integer, false});
  r.add_fast(kMs, "QGemm", {"x86", make_qgemm, false});
}

}  // namespace quench::x86

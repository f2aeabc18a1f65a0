// Gelu (internal domain): 0.5 x (1 + erf(x / sqrt 2)), made from the exporter's
// Div/Erf/Add/Mul/Mul pattern by passes/fuse_gelu.cc so that it can run as one kernel or fuse
// into the MatMul before it.
#include "kernels/ref/ref_kernel.h"
#include "ops/activation.h"
#include "ops/fused.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

void infer_gelu(InferContext& ctx) { ctx.output(0) = ctx.input(0); }

std::unique_ptr<Kernel> ref_gelu(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) {
    ctx.fail(ErrorKind::kUnsupported, "Gelu runs on float32 only");
  }
  const int64_t n = ctx.input(0).numel();
  return ref::make_kernel(
      [n](const KernelArgs& a) {
        const Activation gelu{ActKind::kGeluErf};
        const float* x = ref::in<float>(a, 0);
        float* y = ref::out<float>(a, 0);
        for (int64_t i = 0; i < n; ++i) y[i] = gelu(x[i]);
      },
      0, 0);
}

}  // namespace

void register_gelu_op(OpRegistry& r) {
  r.add({kInternalDomain, "Gelu", 1, infer_gelu, ref_gelu, {}});
}

}  // namespace quench

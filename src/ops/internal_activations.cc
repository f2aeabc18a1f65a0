// Activations of the internal domain, each made from the pattern an exporter writes so that it
// runs as one kernel or fuses into the op before it: Gelu, 0.5 x (1 + erf(x / sqrt 2)), from the
// Div/Erf/Add/Mul/Mul pattern (passes/fuse_gelu.cc); Swish, x·sigmoid(x), from Mul(x, Sigmoid(x))
// (passes/fuse_swish.cc).
#include "kernels/ref/ref_kernel.h"
#include "ops/activation.h"
#include "ops/fused.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

void infer_same(InferContext& ctx) { ctx.output(0) = ctx.input(0); }

template <ActKind kKind>
std::unique_ptr<Kernel> ref_activation(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) {
    ctx.fail(ErrorKind::kUnsupported, "{} runs on float32 only", ctx.node.op_type);
  }
  const int64_t n = ctx.input(0).numel();
  return ref::make_kernel(
      [n](const KernelArgs& a) {
        const Activation f{kKind};
        const float* x = ref::in<float>(a, 0);
        float* y = ref::out<float>(a, 0);
        for (int64_t i = 0; i < n; ++i) y[i] = f(x[i]);
      },
      0, 0);
}

}  // namespace

void register_internal_activation_ops(OpRegistry& r) {
  r.add({kInternalDomain, "Gelu", 1, infer_same, ref_activation<ActKind::kGeluErf>, {}});
  r.add({kInternalDomain, "Swish", 1, infer_same, ref_activation<ActKind::kSwish>, {}});
}

}  // namespace quench

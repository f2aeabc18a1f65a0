// Element-wise ops: unary math and activations, binary arithmetic with broadcasting.
#include "ir/op_registry.h"
#include "ir/shape_util.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/register.h"

namespace quench {
namespace {

void infer_unary(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
}

void infer_binary(InferContext& ctx) {
  const DType a = ctx.input_type(0), b = ctx.input_type(1);
  if (a != DType::kUndefined && b != DType::kUndefined && a != b) {
    ctx.fail("inputs have different element types: {} and {}", dtype_name(a), dtype_name(b));
  }
  ctx.set_output_type(0, a);
  const SymbolicShape* sa = ctx.input_shape(0);
  const SymbolicShape* sb = ctx.input_shape(1);
  if (sa == nullptr || sb == nullptr) return;
  auto out = broadcast_shapes(*sa, *sb);
  if (!out) ctx.fail("shapes {} and {} cannot be broadcast", shape_str(*sa), shape_str(*sb));
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_relu(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) return nullptr;
  const int64_t n = ctx.input(0).numel();
  return ref::make_kernel(
      [n](const KernelArgs& a) {
        const float* x = ref::in<float>(a, 0);
        float* y = ref::out<float>(a, 0);
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] : 0.f;
      },
      0, 0);
}

std::unique_ptr<Kernel> ref_add(KernelContext& ctx) {
  if (ctx.input(0).dtype != DType::kFloat32) return nullptr;
  const Shape out_shape = ctx.outputs[0].shape;
  const Shape sa = ref::broadcast_strides(ctx.input(0).shape, out_shape);
  const Shape sb = ref::broadcast_strides(ctx.input(1).shape, out_shape);
  return ref::make_kernel([=](const KernelArgs& a) {
    const float* x = ref::in<float>(a, 0);
    const float* y = ref::in<float>(a, 1);
    float* z = ref::out<float>(a, 0);
    ref::for_each_broadcast(out_shape, sa, sb,
                            [&](int64_t i, int64_t ia, int64_t ib) { z[i] = x[ia] + y[ib]; });
  });
}

}  // namespace

void register_elementwise_ops(OpRegistry& r) {
  r.add({"", "Relu", 6, infer_unary, ref_relu, {}});
  r.add({"", "Add", 7, infer_binary, ref_add, {}});
}

}  // namespace quench

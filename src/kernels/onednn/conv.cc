// Float convolution on oneDNN: weights packed once into the primitive's preferred layout,
// activations kept in oneDNN's blocked layout between convolutions, bias, residual sum and
// activation fused as post-ops (the kernel itself is conv_primitive.h's).
#include "kernels/onednn/conv.h"

#include <string>

#include "kernels/onednn/context.h"
#include "kernels/onednn/conv_primitive.h"
#include "kernels/onednn/float_operands.h"
#include "kernels/onednn/post_ops.h"
#include "ops/fused.h"
#include "ops/op_registry.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

// oneDNN offers brgemm-based convolution (nhwc) first on AVX-512 machines. For dense 3x3
// convolutions with at most 64 channels in and out, its direct jit kernel (nChw16c) is
// 5-7% faster (cnn and resnet20 at batch 32 and 1, bench/compare_ort.py); wider and 1x1 layers
// keep brgemm, which wins there (resnet18, mobilenet_v2). On bfloat16 operands the direct kernel
// (jit_bf16) makes resnet20 at batch 32 take 0.53 of its float32 time, brgemm 0.67 (AMD Zen 4).
bool prefers_direct_jit(const Shape& weights, int64_t groups) {
  const int64_t out_channels = weights[0], in_channels = weights[1] * groups;
  return groups == 1 && weights.size() == 4 && weights[2] == 3 && weights[3] == 3 &&
         in_channels <= 64 && out_channels <= 64;
}

}  // namespace

std::unique_ptr<Kernel> make_conv(KernelContext& ctx) {
  const FusedInfo info = fused_or_base_info(ctx.node);
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& w = ctx.input(1);
  const TensorDesc& y = ctx.outputs[0];
  const bool has_bias = ctx.has_input(2) && info.base_inputs > 2;
  if (!float_operands(x, w) || w.constant == nullptr || x.rank() < 3 || x.rank() > 5 ||
      info.bias_input >= 0 || (has_bias && ctx.input(2).dtype != DType::kFloat32) ||
      (has_bias && ctx.input(2).constant == nullptr) ||
      (info.sum_input >= 0 && ctx.input(info.sum_input).dtype != y.dtype)) {
    return nullptr;
  }
  const std::optional<ConvGeometry> g = conv_geometry(ctx.node, x.shape, w.shape);
  if (!g) return nullptr;
  // bfloat16 source (eq. (158)): the float32 weights are bfloat16 values, packed as such.
  const dt operands = to_dnnl(x.dtype);
  const memory::desc src_any(to_dims(x.shape), operands, tag::any);
  const memory::desc w_any(g->weight_dims, operands, tag::any);
  const memory::desc dst_md = ctx.blocked_layouts
                                  ? memory::desc(to_dims(y.shape), to_dnnl(y.dtype), tag::any)
                                  : plain_desc(y.dtype, y.shape);
  const memory::desc bias_md({g->out_channels}, dt::f32, tag::a);

  dnnl::post_ops ops;
  if (info.sum_input >= 0) ops.append_sum(1.f);
  // Swish by quench's loop after the primitive, where dst is float32: oneDNN 2.6's swish post-op
  // costs about 0.67 ns per value on a Zen 4 core, the loop (eq. (164)) 0.45 (bound by its
  // arithmetic, in cache or not).
  const bool swish_after = info.activation.kind == ActKind::kSwish && y.dtype == DType::kFloat32;
  if (!swish_after) append_activation(ops, info.activation);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  static constexpr std::string_view kDirectJit[] = {"jit:avx512", "jit_bf16:avx512"};
  const auto pd = conv_primitive_desc(
      src_any, w_any, has_bias ? &bias_md : nullptr, dst_md, *g, attr,
      prefers_direct_jit(w.shape, g->groups) ? std::span(kDirectJit)
                                             : std::span<const std::string_view>());
  if (!pd) return nullptr;  // oneDNN has no implementation: the reference kernel runs instead
  ConvSetup setup;
  setup.src = &x;
  setup.weights = w.constant->raw_data();
  setup.weights_plain = plain_desc(w.dtype, Shape(g->weight_dims.begin(), g->weight_dims.end()));
  if (has_bias) {
    setup.bias = ctx.input(2).constant->raw_data();
    setup.bias_desc = bias_md;
  }
  setup.sum_input = info.sum_input;
  setup.swish_after = swish_after;
  setup.sum_type = to_dnnl(y.dtype);
  return make_conv_kernel(*pd, setup, ctx);
}

}  // namespace quench::onednn

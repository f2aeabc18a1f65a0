#include "kernels/onednn/norm.h"

#include <cstring>

#include "kernels/onednn/context.h"
#include "ops/norm.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using dt = memory::data_type;

struct IoState final : KernelState {
  memory src, dst, scratchpad;
};

// A oneDNN primitive reading one plain source and writing one plain destination, plus
// constant arguments fixed at build time.
class UnaryPrimitiveKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<IoState*>(a.state);
    s->src.set_data_handle(const_cast<void*>(a.inputs[0]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(a.scratch);
    ExecArgs args(constants_);
    args.add(DNNL_ARG_SRC, s->src);
    args.add(DNNL_ARG_DST, s->dst);
    args.add(DNNL_ARG_SCRATCHPAD, s->scratchpad);
    args.execute(prim_);
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<IoState>();
    s->src = memory(io_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(io_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  size_t scratch_bytes() const override { return scratchpad_.get_size(); }
  int inplace_input() const override { return 0; }
  std::string impl() const override { return "onednn:" + impl_; }

  dnnl::primitive prim_;
  memory::desc io_, scratchpad_;
  std::unordered_map<int, memory> constants_;
  std::string impl_;
};

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

}  // namespace

std::unique_ptr<Kernel> make_softmax(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (x.dtype != DType::kFloat32 || x.numel() == 0) return nullptr;
  const SoftmaxGeometry g = softmax_geometry(ctx.node, ctx.opset, x.shape);
  const memory::desc io = plain_desc(DType::kFloat32, {g.outer, g.axis, g.inner});
  const auto alg = ctx.node.op_type == "LogSoftmax" ? dnnl::algorithm::softmax_log
                                                    : dnnl::algorithm::softmax_accurate;
  dnnl::softmax_v2_forward::primitive_desc pd;
  try {
    pd = dnnl::softmax_v2_forward::primitive_desc(
        dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, io, io, 1),
        user_scratchpad(), engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<UnaryPrimitiveKernel>();
  k->prim_ = dnnl::softmax_v2_forward(pd);
  k->io_ = io;
  k->scratchpad_ = pd.scratchpad_desc();
  k->impl_ = pd.impl_info_str();
  return k;
}

std::unique_ptr<Kernel> make_layer_norm(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (x.dtype != DType::kFloat32 || x.numel() == 0) return nullptr;
  for (size_t i = 1; i < ctx.outputs.size(); ++i) {
    if (ctx.outputs[i].present()) return nullptr;  // Mean / InvStdDev requested
  }
  const LayerNormGeometry g = layer_norm_geometry(ctx.node, x.shape);
  // Scale and bias must be constants holding exactly one value per normalized element.
  auto per_column = [&](size_t i) -> const Tensor* {
    if (!ctx.has_input(i)) return nullptr;
    const Tensor* t = ctx.inputs[i].constant;
    return t && t->dtype() == DType::kFloat32 && t->numel() == g.cols ? t : nullptr;
  };
  const Tensor* scale = per_column(1);
  const Tensor* bias = per_column(2);
  if (scale == nullptr || (ctx.has_input(2) && bias == nullptr)) return nullptr;
  const memory::desc io = plain_desc(DType::kFloat32, {g.rows, g.cols});
  const memory::desc param({g.cols}, dt::f32, memory::format_tag::a);
  auto flags = dnnl::normalization_flags::use_scale;
  if (bias) flags |= dnnl::normalization_flags::use_shift;
  dnnl::layer_normalization_forward::primitive_desc pd;
  try {
    pd = dnnl::layer_normalization_forward::primitive_desc(
        dnnl::layer_normalization_forward::desc(dnnl::prop_kind::forward_inference, io, g.epsilon,
                                                flags),
        user_scratchpad(), engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<UnaryPrimitiveKernel>();
  k->prim_ = dnnl::layer_normalization_forward(pd);
  k->io_ = io;
  k->scratchpad_ = pd.scratchpad_desc();
  k->impl_ = pd.impl_info_str();
  auto constant = [&](const Tensor* t) {
    memory m(param, engine());
    std::memcpy(m.get_data_handle(), t->raw_data(), t->nbytes());
    return m;
  };
  k->constants_.emplace(DNNL_ARG_SCALE, constant(scale));
  if (bias) k->constants_.emplace(DNNL_ARG_SHIFT, constant(bias));
  return k;
}

}  // namespace quench::onednn

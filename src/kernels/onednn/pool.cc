#include "kernels/onednn/pool.h"

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/pool_window.h"
#include "ops/conv_params.h"

namespace quench::onednn {
namespace {

using dnnl::memory;

struct PoolState final : KernelState {
  memory src, dst, scratchpad;
};

class PoolKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<PoolState*>(a.state);
    s->src.set_data_handle(const_cast<void*>(a.inputs[0]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(a.scratch);
    execute(
        prim_,
        {{DNNL_ARG_SRC, &s->src}, {DNNL_ARG_DST, &s->dst}, {DNNL_ARG_SCRATCHPAD, &s->scratchpad}});
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<PoolState>();
    s->src = memory(src_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  size_t scratch_bytes() const override { return scratchpad_.get_size(); }
  std::string impl() const override { return "onednn:" + impl_; }

  dnnl::pooling_v2_forward prim_;
  memory::desc src_, dst_, scratchpad_;
  std::string impl_;
};

}  // namespace

std::unique_ptr<Kernel> make_pool(KernelContext& ctx) {
  const Node& node = ctx.node;
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& y = ctx.outputs[0];
  if (x.dtype != DType::kFloat32 || x.rank() < 3 || x.rank() > 5) return nullptr;
  if (ctx.outputs.size() > 1 && ctx.outputs[1].present()) return nullptr;  // MaxPool Indices
  const int spatial = x.rank() - 2;
  const std::string& op = node.op_type;
  const bool global = op == "GlobalAveragePool" || op == "GlobalMaxPool";
  const bool is_max = op == "MaxPool" || op == "GlobalMaxPool";

  Window w;
  if (global) {
    for (int i = 0; i < spatial; ++i) {
      w.strides.push_back(1);
      w.kernel.push_back(x.shape[2 + i]);
      w.dilation.push_back(0);
      w.pad_l.push_back(0);
      w.pad_r.push_back(0);
    }
  } else {
    std::optional<Window> window = pool_window(node, x.shape, y.shape, is_max);
    if (!window) return nullptr;
    w = std::move(*window);
  }
  const bool include_pad = w.include_pad;
  const auto alg = is_max ? dnnl::algorithm::pooling_max
                          : (include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                         : dnnl::algorithm::pooling_avg_exclude_padding);
  const memory::desc src_plain = plain_desc(x.dtype, x.shape);
  const memory::desc dst_plain = plain_desc(y.dtype, y.shape);
  const memory::desc src = desc_of(x.layout, src_plain);
  const memory::desc dst =
      ctx.blocked_layouts
          ? memory::desc(to_dims(y.shape), memory::data_type::f32, memory::format_tag::any)
          : dst_plain;
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    pd = dnnl::pooling_v2_forward::primitive_desc(
        dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst, w.strides,
                                       w.kernel, w.dilation, w.pad_l, w.pad_r),
        attr, engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<PoolKernel>();
  k->prim_ = dnnl::pooling_v2_forward(pd);
  k->impl_ = pd.impl_info_str();
  k->src_ = src;
  k->dst_ = pd.dst_desc();
  k->scratchpad_ = pd.scratchpad_desc();
  ctx.outputs[0].layout = layout_from_desc(k->dst_, dst_plain);
  return k;
}

}  // namespace quench::onednn

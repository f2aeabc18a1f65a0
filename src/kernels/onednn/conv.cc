// Float convolution on oneDNN: weights packed once into the primitive's preferred layout,
// activations kept in oneDNN's blocked layout between convolutions, bias, residual sum and
// activation fused as post-ops.
#include "kernels/onednn/conv.h"

#include <cstring>

#include "ir/op_registry.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/post_ops.h"
#include "ops/conv_params.h"
#include "ops/fused.h"

namespace quench::onednn {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// oneDNN offers brgemm-based convolution (nhwc) first on AVX-512 machines. For dense 3x3
// convolutions with at most 64 channels in and out, its direct jit kernel (nChw16c) is
// 5-7% faster (cnn and resnet20 at batch 32 and 1, bench/compare_ort.py); wider and 1x1 layers
// keep brgemm, which wins there (resnet18, mobilenet_v2).
bool prefers_direct_jit(const Shape& weights, int64_t groups) {
  const int64_t out_channels = weights[0], in_channels = weights[1] * groups;
  return groups == 1 && weights.size() == 4 && weights[2] == 3 && weights[3] == 3 &&
         in_channels <= 64 && out_channels <= 64;
}

struct ConvState final : KernelState {
  memory src, src_packed, sum, dst, bias, scratchpad;
};

class ConvKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<ConvState*>(a.state);
    char* scratch = static_cast<char*>(a.scratch);
    s->src.set_data_handle(const_cast<void*>(a.inputs[0]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(scratch);
    memory* src = &s->src;
    if (src_reorder_) {
      s->src_packed.set_data_handle(scratch + src_packed_offset_);
      src_reorder_->execute(stream(), s->src, s->src_packed);
      src = &s->src_packed;
    }
    if (sum_input_ >= 0 && a.inputs[sum_input_] != a.outputs[0]) {
      // The sum post-op adds what dst holds: bring the residual into dst first.
      s->sum.set_data_handle(const_cast<void*>(a.inputs[sum_input_]));
      sum_reorder_->execute(stream(), s->sum, s->dst);
    }
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, *src},
                                         {DNNL_ARG_WEIGHTS, weights_},
                                         {DNNL_ARG_DST, s->dst},
                                         {DNNL_ARG_SCRATCHPAD, s->scratchpad}};
    if (bias_) args.emplace(DNNL_ARG_BIAS, bias_);
    conv_.execute(stream(), args);
  }

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<ConvState>();
    s->src = memory(src_in_, engine(), DNNL_MEMORY_NONE);
    s->src_packed = memory(src_used_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    if (sum_input_ >= 0) s->sum = memory(sum_in_, engine(), DNNL_MEMORY_NONE);
    return s;
  }

  size_t scratch_bytes() const override { return scratch_bytes_; }
  int inplace_input() const override { return sum_input_; }
  std::string impl() const override { return "onednn:" + impl_; }

  static std::unique_ptr<Kernel> make(KernelContext& ctx);

 private:
  dnnl::convolution_forward conv_;
  memory::desc src_in_, src_used_, dst_, sum_in_, scratchpad_;
  std::optional<dnnl::reorder> src_reorder_, sum_reorder_;
  memory weights_, bias_;
  int sum_input_ = -1;
  size_t src_packed_offset_ = 0;
  size_t scratch_bytes_ = 0;
  std::string impl_;
};

std::unique_ptr<Kernel> ConvKernel::make(KernelContext& ctx) {
  const Node& node = ctx.node;
  const FusedInfo info = fused_or_base_info(node);
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& w = ctx.input(1);
  const bool has_bias = ctx.has_input(2) && info.base_inputs > 2;
  if (x.dtype != DType::kFloat32 || w.constant == nullptr || x.rank() < 3 || x.rank() > 5 ||
      info.bias_input >= 0) {
    return nullptr;
  }
  if (has_bias && ctx.input(2).constant == nullptr) return nullptr;
  const int spatial = x.rank() - 2;
  std::vector<int64_t> in_spatial(x.shape.begin() + 2, x.shape.end());
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  const WindowParams p = parse_window(node, in_spatial, kernel);
  const int64_t groups = p.group;
  const int64_t out_channels = w.shape[0];

  memory::dims strides, dilates, pad_l, pad_r;
  for (int i = 0; i < spatial; ++i) {
    strides.push_back(p.strides[i]);
    dilates.push_back(p.dilations[i] - 1);  // oneDNN counts the gaps
    pad_l.push_back(p.pads_begin[i]);
    pad_r.push_back(p.pads_end[i]);
  }
  const TensorDesc& y = ctx.outputs[0];
  const memory::desc src_plain = plain_desc(x.dtype, x.shape);
  const memory::desc dst_plain = plain_desc(y.dtype, y.shape);
  memory::dims w_dims;
  if (groups > 1) w_dims.push_back(groups);
  w_dims.push_back(out_channels / groups);
  for (size_t i = 1; i < w.shape.size(); ++i) w_dims.push_back(w.shape[i]);
  const memory::desc w_plain = plain_desc(DType::kFloat32, Shape(w_dims.begin(), w_dims.end()));
  const memory::desc src_any(to_dims(x.shape), memory::data_type::f32, tag::any);
  const memory::desc w_any(w_dims, memory::data_type::f32, tag::any);
  const memory::desc dst_md = ctx.blocked_layouts
                                  ? memory::desc(to_dims(y.shape), memory::data_type::f32, tag::any)
                                  : dst_plain;
  const memory::desc bias_md({out_channels}, memory::data_type::f32, tag::a);

  dnnl::post_ops ops;
  if (info.sum_input >= 0) ops.append_sum(1.f);
  append_activation(ops, info.activation);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

  using fwd = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  fwd::primitive_desc pd;
  try {
    fwd::desc d =
        has_bias
            ? fwd::desc(prop, alg, src_any, w_any, bias_md, dst_md, strides, dilates, pad_l, pad_r)
            : fwd::desc(prop, alg, src_any, w_any, dst_md, strides, dilates, pad_l, pad_r);
    pd = fwd::primitive_desc(d, attr, engine());
    if (prefers_direct_jit(w.shape, groups)) {
      // The first direct AVX-512 implementation, if oneDNN has one for this configuration.
      fwd::primitive_desc probe(d, attr, engine());
      do {
        if (std::string(probe.impl_info_str()).rfind("jit:avx512", 0) == 0) {
          pd = probe;
          break;
        }
      } while (probe.next_impl());
    }
  } catch (const dnnl::error&) {
    return nullptr;  // oneDNN has no implementation: the reference kernel runs instead
  }

  auto k = std::make_unique<ConvKernel>();
  k->conv_ = fwd(pd);
  k->impl_ = pd.impl_info_str();
  k->src_in_ = desc_of(x.layout, src_plain);
  k->src_used_ = pd.src_desc();
  if (k->src_in_ != k->src_used_) {
    k->src_reorder_ =
        dnnl::reorder(dnnl::reorder::primitive_desc(engine(), k->src_in_, engine(), k->src_used_));
  }
  k->dst_ = pd.dst_desc();
  k->scratchpad_ = pd.scratchpad_desc();
  k->src_packed_offset_ = align64(k->scratchpad_.get_size());
  k->scratch_bytes_ = k->src_packed_offset_ + (k->src_reorder_ ? k->src_used_.get_size() : 0);

  // Pack the weights once.
  memory w_user(w_plain, engine(), const_cast<void*>(w.constant->raw_data()));
  k->weights_ = memory(pd.weights_desc(), engine());
  dnnl::reorder(w_user, k->weights_).execute(stream(), w_user, k->weights_);
  if (has_bias) {
    k->bias_ = memory(bias_md, engine());
    std::memcpy(k->bias_.get_data_handle(), ctx.input(2).constant->raw_data(),
                static_cast<size_t>(out_channels) * sizeof(float));
  }
  if (info.sum_input >= 0) {
    k->sum_input_ = info.sum_input;
    k->sum_in_ = desc_of(ctx.input(info.sum_input).layout, dst_plain);
    k->sum_reorder_ =
        dnnl::reorder(dnnl::reorder::primitive_desc(engine(), k->sum_in_, engine(), k->dst_));
  }
  stream().wait();
  ctx.outputs[0].layout = layout_from_desc(k->dst_, dst_plain);
  return k;
}

}  // namespace

std::unique_ptr<Kernel> make_conv(KernelContext& ctx) { return ConvKernel::make(ctx); }

}  // namespace quench::onednn

#include "kernels/onednn/conv_primitive.h"

#include <cstring>
#include <optional>
#include <string>
#include <unordered_map>

#include "kernels/layout.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/x86/swish.h"
#include "ops/conv_params.h"
#include "ops/quantized/qfused.h"

namespace quench::onednn {
namespace {

using dnnl::memory;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// The memory objects of one execution state and the argument maps that hold them, made once so
// that run() only sets data handles.
struct ConvState final : KernelState {
  memory src, src_packed, sum, dst_as_sum, dst, scratchpad;
  std::unordered_map<int, memory> conv_args, src_reorder_args, sum_reorder_args;
};

class ConvPrimitiveKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<ConvState*>(a.state);
    char* scratch = static_cast<char*>(a.scratch);
    s->src.set_data_handle(const_cast<void*>(a.inputs[0]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(scratch);
    if (src_reorder_) {
      s->src_packed.set_data_handle(scratch + src_packed_offset_);
      src_reorder_->execute(stream(), s->src_reorder_args);
    }
    if (sum_input_ >= 0 && a.inputs[sum_input_] != a.outputs[0]) {
      // The sum post-op adds what dst holds: bring the residual into dst first.
      s->sum.set_data_handle(const_cast<void*>(a.inputs[sum_input_]));
      s->dst_as_sum.set_data_handle(a.outputs[0]);
      sum_reorder_->execute(stream(), s->sum_reorder_args);
    }
    src_zero_point_.load(a, s->conv_args);
    execute(conv_, s->conv_args);
    if (swish_) {
      auto* y = static_cast<float*>(a.outputs[0]);
      swish_(y, y, dst_floats_);
    }
    if (y_max_.defined()) {
      const int64_t spatial = y_channels_ > 0 ? dst_elements_ / (y_batch_ * y_channels_) : 0;
      if (y_max_.dtype() == DType::kUInt8) {
        apply_y_max(static_cast<uint8_t*>(a.outputs[0]), y_max_.data<uint8_t>(), y_batch_,
                    y_channels_, spatial, y_channels_last_);
      } else {
        apply_y_max(static_cast<int8_t*>(a.outputs[0]), y_max_.data<int8_t>(), y_batch_,
                    y_channels_, spatial, y_channels_last_);
      }
    }
  }

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<ConvState>();
    s->src = memory(src_in_, engine(), DNNL_MEMORY_NONE);
    s->src_packed = memory(src_used_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    s->conv_args = {{DNNL_ARG_SRC, src_reorder_ ? s->src_packed : s->src},
                    {DNNL_ARG_WEIGHTS, weights_},
                    {DNNL_ARG_DST, s->dst},
                    {DNNL_ARG_SCRATCHPAD, s->scratchpad}};
    if (bias_) s->conv_args.emplace(DNNL_ARG_BIAS, bias_);
    if (binary_index_ >= 0) {
      s->conv_args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(binary_index_) | DNNL_ARG_SRC_1, binary_);
    }
    src_zero_point_.add_to(s->conv_args);
    s->src_reorder_args = {{DNNL_ARG_FROM, s->src}, {DNNL_ARG_TO, s->src_packed}};
    if (sum_input_ >= 0) {
      s->sum = memory(sum_in_, engine(), DNNL_MEMORY_NONE);
      s->dst_as_sum = memory(dst_as_sum_, engine(), DNNL_MEMORY_NONE);
      s->sum_reorder_args = {{DNNL_ARG_FROM, s->sum}, {DNNL_ARG_TO, s->dst_as_sum}};
    }
    return s;
  }

  size_t scratch_bytes() const override { return scratch_bytes_; }
  // The runtime aliases only a sum of dst's type and layout (memory_planner.cc checks both).
  int inplace_input() const override { return sum_input_; }
  std::string impl() const override { return "onednn:" + impl_; }

  dnnl::convolution_forward conv_;
  memory::desc src_in_, src_used_, dst_, sum_in_, dst_as_sum_, scratchpad_;
  std::optional<dnnl::reorder> src_reorder_, sum_reorder_;
  memory weights_, bias_, binary_;
  int sum_input_ = -1;
  int binary_index_ = -1;
  Tensor y_max_;  // eq. (157) after the primitive: y [batch, channels, ...] plain or channels last
  int64_t y_batch_ = 0, y_channels_ = 0, dst_elements_ = 0;
  bool y_channels_last_ = false;
  x86::SwishLoop swish_ = nullptr;  // ConvSetup::swish_after, over dst_floats_ values
  int64_t dst_floats_ = 0;
  RuntimeZeroPoint src_zero_point_;
  size_t src_packed_offset_ = 0;
  size_t scratch_bytes_ = 0;
  std::string impl_;
};

}  // namespace

std::optional<ConvGeometry> conv_geometry(const Node& node, const Shape& x, const Shape& w) {
  const std::vector<int64_t> in_spatial(x.begin() + 2, x.end());
  const std::vector<int64_t> kernel(w.begin() + 2, w.end());
  const WindowParams p = parse_window(node, in_spatial, kernel);
  ConvGeometry g;
  g.groups = p.group;
  g.out_channels = w[0];
  if (g.groups <= 0 || g.out_channels % g.groups != 0) return std::nullopt;
  for (size_t i = 0; i < in_spatial.size(); ++i) {
    g.strides.push_back(p.strides[i]);
    g.dilates.push_back(p.dilations[i] - 1);  // oneDNN counts the gaps
    g.pad_l.push_back(p.pads_begin[i]);
    g.pad_r.push_back(p.pads_end[i]);
  }
  if (g.groups > 1) g.weight_dims.push_back(g.groups);
  g.weight_dims.push_back(g.out_channels / g.groups);
  for (size_t i = 1; i < w.size(); ++i) g.weight_dims.push_back(w[i]);
  return g;
}

std::optional<dnnl::convolution_forward::primitive_desc> conv_primitive_desc(
    const memory::desc& src, const memory::desc& weights, const memory::desc* bias,
    const memory::desc& dst, const ConvGeometry& g, const dnnl::primitive_attr& attr,
    std::span<const std::string_view> preferred) {
  using fwd = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  try {
    const fwd::desc d =
        bias
            ? fwd::desc(prop, alg, src, weights, *bias, dst, g.strides, g.dilates, g.pad_l, g.pad_r)
            : fwd::desc(prop, alg, src, weights, dst, g.strides, g.dilates, g.pad_l, g.pad_r);
    fwd::primitive_desc pd(d, attr, engine());
    for (const std::string_view name : preferred) {
      fwd::primitive_desc probe(d, attr, engine());
      do {
        if (std::string_view(probe.impl_info_str()).find(name) != std::string_view::npos) {
          return probe;
        }
      } while (probe.next_impl());
    }
    return pd;
  } catch (const dnnl::error&) {
    return std::nullopt;
  }
}

std::unique_ptr<Kernel> make_conv_kernel(const dnnl::convolution_forward::primitive_desc& pd,
                                         const ConvSetup& setup, KernelContext& ctx) {
  const TensorDesc& y = ctx.outputs[0];
  const memory::desc dst_plain = plain_desc(y.dtype, y.shape);
  auto k = std::make_unique<ConvPrimitiveKernel>();
  k->conv_ = dnnl::convolution_forward(pd);
  k->impl_ = pd.impl_info_str();
  k->src_in_ = desc_of(setup.src->layout, plain_desc(setup.src->dtype, setup.src->shape));
  k->src_used_ = pd.src_desc();
  if (k->src_in_ != k->src_used_) {
    k->src_reorder_ =
        dnnl::reorder(dnnl::reorder::primitive_desc(engine(), k->src_in_, engine(), k->src_used_));
  }
  k->dst_ = pd.dst_desc();
  if (setup.swish_after) {
    k->swish_ = x86::swish_loop();
    k->dst_floats_ = static_cast<int64_t>(k->dst_.get_size() / sizeof(float));
  }
  k->scratchpad_ = pd.scratchpad_desc();
  k->src_zero_point_ = setup.src_zero_point;
  k->src_packed_offset_ = align64(k->scratchpad_.get_size());
  k->scratch_bytes_ = k->src_packed_offset_ + (k->src_reorder_ ? k->src_used_.get_size() : 0);

  // Pack the weights once (for int8, the reorder also computes the compensation oneDNN keeps with
  // them for the source zero point).
  memory w_user(setup.weights_plain, engine(), const_cast<void*>(setup.weights));
  k->weights_ = memory(pd.weights_desc(), engine());
  dnnl::reorder(w_user, k->weights_).execute(stream(), w_user, k->weights_);
  if (setup.bias) {
    k->bias_ = memory(setup.bias_desc, engine());
    std::memcpy(k->bias_.get_data_handle(), setup.bias, setup.bias_desc.get_size());
  }
  if (setup.binary_index >= 0) {
    k->binary_index_ = setup.binary_index;
    k->binary_ = memory(setup.binary_desc, engine());
    std::memcpy(k->binary_.get_data_handle(), setup.binary_values.data(),
                setup.binary_desc.get_size());
  }
  if (setup.sum_input >= 0) {
    const TensorDesc& sum = ctx.input(static_cast<size_t>(setup.sum_input));
    k->sum_input_ = setup.sum_input;
    k->sum_in_ = desc_of(sum.layout, plain_desc(sum.dtype, sum.shape));
    k->dst_as_sum_ = retyped(k->dst_, setup.sum_type);
    k->sum_reorder_ = dnnl::reorder(
        dnnl::reorder::primitive_desc(engine(), k->sum_in_, engine(), k->dst_as_sum_));
  }
  stream().wait();
  ctx.outputs[0].layout = layout_from_desc(k->dst_, dst_plain);
  if (setup.y_max != nullptr) {
    const bool last = is_channels_last(ctx.outputs[0].layout, y.shape);
    if (!ctx.outputs[0].layout.plain() && !last) return nullptr;  // the caller checks first
    k->y_max_ = *setup.y_max;
    k->y_batch_ = y.shape[0];
    k->y_channels_ = y.shape[1];
    k->dst_elements_ = shape_numel(y.shape);
    k->y_channels_last_ = last;
  }
  return k;
}

}  // namespace quench::onednn

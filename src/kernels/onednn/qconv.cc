// Integer convolution on oneDNN (QLinearConv, QFusedConv): s8 weights packed once into the
// primitive's preferred layout, u8/s8 activations kept in its layout (channels-last) between
// convolutions, the requantization of eqs. (45)-(47) as output scales, zero points and post-ops.
#include "kernels/onednn/qconv.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/requantize.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "ops/conv_params.h"
#include "ops/fused.h"
#include "ops/quant_params.h"

namespace quench::onednn {

using dnnl::memory;
using dt = memory::data_type;

dnnl::primitive_attr Int8Requant::attr(int channel_mask) const {
  dnnl::primitive_attr a;
  a.set_output_scales(scales.size() > 1 ? channel_mask : 0, scales);
  // Constant zero points: oneDNN folds them into its compensation when the primitive is made.
  if (src_zero_point != 0) a.set_zero_points(DNNL_ARG_SRC, 0, {src_zero_point});
  if (weights_zero_point != 0) a.set_zero_points(DNNL_ARG_WEIGHTS, 0, {weights_zero_point});
  if (dst_zero_point != 0) a.set_zero_points(DNNL_ARG_DST, 0, {dst_zero_point});
  dnnl::post_ops ops;
  // The sum comes before the clamp (eq. (45)); oneDNN applies post-ops in order.
  if (has_sum) ops.append_sum(sum_scale, sum_zero_point, sum_type);
  constexpr float kMax = std::numeric_limits<float>::max();
  if (low && *low == 0.f && !high) {
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  } else if (low || high) {
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, std::max(low.value_or(-kMax), -kMax),
                       std::min(high.value_or(kMax), kMax));
  }
  a.set_post_ops(ops);
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

bool read_fused_epilogue(const KernelContext& ctx, float y_scale, Int8Requant& r) {
  enum : size_t { kSum = 9, kSumScale = 10, kSumZeroPoint = 11 };
  constexpr float kInf = std::numeric_limits<float>::infinity();
  const float act_min = ctx.node.attr_float("act_min", -kInf);
  const float act_max = ctx.node.attr_float("act_max", kInf);
  if (std::isnan(act_min) || std::isnan(act_max) || act_min > act_max) return false;
  // Bounds in units of s_y, divided as the reference divides them (eq. (46)).
  if (act_min > -kInf) r.low = act_min / y_scale;
  if (act_max < kInf) r.high = act_max / y_scale;
  if (!ctx.has_input(kSum)) return true;
  const TensorDesc& sum = ctx.input(kSum);
  if (!is_quant_type(sum.dtype) || sum.shape != ctx.outputs[0].shape || !ctx.has_input(kSumScale)) {
    return false;
  }
  const QuantParamSource params(ctx, kSumScale, kSumZeroPoint, sum.dtype);
  if (!params.known() || params.size() != 1) return false;
  r.has_sum = true;
  r.sum_scale = params.params().scale(0) / y_scale;
  r.sum_zero_point = params.params().zero_point(0);
  r.sum_type = to_dnnl(sum.dtype);
  return true;
}

memory::desc with_type(const memory::desc& desc, memory::data_type type) {
  dnnl_memory_desc_t data = desc.data;
  data.data_type = memory::convert_to_c(type);
  return memory::desc(data);
}

namespace {

using tag = memory::format_tag;

// QLinearConv's inputs; QFusedConv's sum follows (read_fused_epilogue).
enum : size_t { kX, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint, kYScale, kYZeroPoint, kBias };
constexpr size_t kSum = 9;

size_t align64(size_t n) { return (n + 63) / 64 * 64; }

// The memory objects of one execution state and the argument maps that hold them, made once so
// that run() only sets data handles.
struct QConvState final : KernelState {
  memory src, src_packed, sum, dst_as_sum, dst, scratchpad;
  std::unordered_map<int, memory> conv_args, src_reorder_args, sum_reorder_args;
};

class QConvKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<QConvState*>(a.state);
    char* scratch = static_cast<char*>(a.scratch);
    s->src.set_data_handle(const_cast<void*>(a.inputs[kX]));
    s->dst.set_data_handle(a.outputs[0]);
    s->scratchpad.set_data_handle(scratch);
    if (src_reorder_) {
      s->src_packed.set_data_handle(scratch + src_packed_offset_);
      src_reorder_->execute(stream(), s->src_reorder_args);
    }
    if (sum_reorder_ && a.inputs[kSum] != a.outputs[0]) {
      // The sum post-op adds what dst holds: bring the residual into dst first.
      s->sum.set_data_handle(const_cast<void*>(a.inputs[kSum]));
      s->dst_as_sum.set_data_handle(a.outputs[0]);
      sum_reorder_->execute(stream(), s->sum_reorder_args);
    }
    conv_.execute(stream(), s->conv_args);
  }

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<QConvState>();
    s->src = memory(src_in_, engine(), DNNL_MEMORY_NONE);
    s->src_packed = memory(src_used_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    s->conv_args = {{DNNL_ARG_SRC, src_reorder_ ? s->src_packed : s->src},
                    {DNNL_ARG_WEIGHTS, weights_},
                    {DNNL_ARG_DST, s->dst},
                    {DNNL_ARG_SCRATCHPAD, s->scratchpad}};
    if (bias_) s->conv_args.emplace(DNNL_ARG_BIAS, bias_);
    s->src_reorder_args = {{DNNL_ARG_FROM, s->src}, {DNNL_ARG_TO, s->src_packed}};
    if (sum_reorder_) {
      s->sum = memory(sum_in_, engine(), DNNL_MEMORY_NONE);
      s->dst_as_sum = memory(dst_as_sum_, engine(), DNNL_MEMORY_NONE);
      s->sum_reorder_args = {{DNNL_ARG_FROM, s->sum}, {DNNL_ARG_TO, s->dst_as_sum}};
    }
    return s;
  }

  size_t scratch_bytes() const override { return scratch_bytes_; }
  // The runtime aliases only a sum of dst's type and layout (memory_planner.cc checks both).
  int inplace_input() const override { return sum_reorder_ ? static_cast<int>(kSum) : -1; }
  std::string impl() const override { return "onednn:" + impl_; }

  static std::unique_ptr<Kernel> make(KernelContext& ctx);

 private:
  dnnl::convolution_forward conv_;
  memory::desc src_in_, src_used_, dst_, sum_in_, dst_as_sum_, scratchpad_;
  std::optional<dnnl::reorder> src_reorder_, sum_reorder_;
  memory weights_, bias_;
  size_t src_packed_offset_ = 0;
  size_t scratch_bytes_ = 0;
  std::string impl_;
};

// The scales and zero points of eqs. (36), (47): nullopt unless they are constant, x and y per
// tensor, w per tensor or per output channel with zero points 0.
std::optional<Int8Requant> read_requant(const KernelContext& ctx, int64_t out_channels) {
  const TensorDesc& x = ctx.input(kX);
  const TensorDesc& y = ctx.outputs[0];
  if (!ctx.has_input(kYZeroPoint)) return std::nullopt;
  const QuantParamSource x_params(ctx, kXScale, kXZeroPoint, x.dtype);
  const QuantParamSource w_params(ctx, kWScale, kWZeroPoint, DType::kInt8);
  const QuantParamSource y_params(ctx, kYScale, kYZeroPoint, y.dtype);
  if (!x_params.known() || !w_params.known() || !y_params.known() || x_params.size() != 1 ||
      y_params.size() != 1 || (w_params.size() != 1 && w_params.size() != out_channels)) {
    return std::nullopt;
  }
  for (int32_t zero_point : w_params.params().zero_points) {
    if (zero_point != 0) return std::nullopt;
  }
  Int8Requant r;
  const float x_scale = x_params.params().scale(0), y_scale = y_params.params().scale(0);
  for (int64_t channel = 0; channel < w_params.size(); ++channel) {
    r.scales.push_back(requant_multiplier(x_scale, w_params.params().scale(channel), y_scale));
  }
  r.src_zero_point = x_params.params().zero_point(0);
  r.dst_zero_point = y_params.params().zero_point(0);
  if (ctx.node.domain == kInternalDomain && !read_fused_epilogue(ctx, y_scale, r)) {
    return std::nullopt;
  }
  return r;
}

std::unique_ptr<Kernel> QConvKernel::make(KernelContext& ctx) {
  const Node& node = ctx.node;
  const TensorDesc& x = ctx.input(kX);
  const TensorDesc& w = ctx.input(kW);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(x.dtype) || !is_quant_type(y.dtype) || w.dtype != DType::kInt8 ||
      w.constant == nullptr || x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank() ||
      x.numel() == 0 || y.numel() == 0) {
    return nullptr;
  }
  const int64_t out_channels = w.shape[0];
  const bool has_bias = ctx.has_input(kBias);
  if (has_bias) {
    const TensorDesc& bias = ctx.input(kBias);
    if (bias.dtype != DType::kInt32 || bias.constant == nullptr || bias.numel() != out_channels) {
      return nullptr;
    }
  }
  const std::optional<Int8Requant> requant = read_requant(ctx, out_channels);
  if (!requant) return nullptr;

  const int spatial = x.rank() - 2;
  std::vector<int64_t> in_spatial(x.shape.begin() + 2, x.shape.end());
  std::vector<int64_t> kernel(w.shape.begin() + 2, w.shape.end());
  const WindowParams p = parse_window(node, in_spatial, kernel);
  const int64_t groups = p.group;
  if (groups <= 0 || out_channels % groups != 0) return nullptr;
  memory::dims strides, dilates, pad_l, pad_r;
  for (int i = 0; i < spatial; ++i) {
    strides.push_back(p.strides[i]);
    dilates.push_back(p.dilations[i] - 1);  // oneDNN counts the gaps
    pad_l.push_back(p.pads_begin[i]);
    pad_r.push_back(p.pads_end[i]);
  }
  const memory::desc src_plain = plain_desc(x.dtype, x.shape);
  const memory::desc dst_plain = plain_desc(y.dtype, y.shape);
  // src = [N, C, spatial...]; weights = [groups, out/groups, in/groups, kernel...] when grouped.
  memory::dims w_dims;
  if (groups > 1) w_dims.push_back(groups);
  w_dims.push_back(out_channels / groups);
  for (size_t i = 1; i < w.shape.size(); ++i) w_dims.push_back(w.shape[i]);
  const memory::desc w_plain = plain_desc(DType::kInt8, Shape(w_dims.begin(), w_dims.end()));
  const memory::desc src_any(to_dims(x.shape), to_dnnl(x.dtype), tag::any);
  const memory::desc w_any(w_dims, dt::s8, tag::any);
  const memory::desc dst_md =
      ctx.blocked_layouts ? memory::desc(to_dims(y.shape), to_dnnl(y.dtype), tag::any) : dst_plain;
  const memory::desc bias_md({out_channels}, dt::s32, tag::a);
  const dnnl::primitive_attr attr = requant->attr(1 << 1);

  using fwd = dnnl::convolution_forward;
  const auto prop = dnnl::prop_kind::forward_inference;
  const auto alg = dnnl::algorithm::convolution_direct;
  fwd::primitive_desc pd;
  try {
    const fwd::desc d =
        has_bias
            ? fwd::desc(prop, alg, src_any, w_any, bias_md, dst_md, strides, dilates, pad_l, pad_r)
            : fwd::desc(prop, alg, src_any, w_any, dst_md, strides, dilates, pad_l, pad_r);
    pd = fwd::primitive_desc(d, attr, engine());
  } catch (const dnnl::error&) {
    return nullptr;  // oneDNN has no implementation: the reference kernel runs instead
  }

  auto k = std::make_unique<QConvKernel>();
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

  // Pack the weights once; the reorder also computes the compensation oneDNN keeps with them
  // for the source zero point (and for s8 sources).
  memory w_user(w_plain, engine(), const_cast<void*>(w.constant->raw_data()));
  k->weights_ = memory(pd.weights_desc(), engine());
  dnnl::reorder(w_user, k->weights_).execute(stream(), w_user, k->weights_);
  if (has_bias) {
    k->bias_ = memory(bias_md, engine());
    std::memcpy(k->bias_.get_data_handle(), ctx.input(kBias).constant->raw_data(),
                static_cast<size_t>(out_channels) * sizeof(int32_t));
  }
  if (requant->has_sum) {
    const TensorDesc& sum = ctx.input(kSum);
    k->sum_in_ = desc_of(sum.layout, plain_desc(sum.dtype, sum.shape));
    k->dst_as_sum_ = with_type(k->dst_, requant->sum_type);
    k->sum_reorder_ = dnnl::reorder(
        dnnl::reorder::primitive_desc(engine(), k->sum_in_, engine(), k->dst_as_sum_));
  }
  stream().wait();
  ctx.outputs[0].layout = layout_from_desc(k->dst_, dst_plain);
  return k;
}

}  // namespace

std::unique_ptr<Kernel> make_qconv(KernelContext& ctx) { return QConvKernel::make(ctx); }

}  // namespace quench::onednn

// Pooling of 8-bit data. oneDNN's int8 pooling jit (jit_int:avx512_core) runs only on
// channels-last data (in oneDNN 2.6 nchw and nChw16c int8 fall back to its slow reference
// implementation), so the pooling kernels convert other layouts to channels-last first.
#include "kernels/onednn/qpool.h"

#include <optional>

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/pool_window.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/x86/qloops.h"
#include "ops/conv_params.h"
#include "ops/domains.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

using dnnl::memory;

struct PoolState final : KernelState {
  memory in_from, in_to, src, dst, scratchpad, out_from, out_to;
};

// One oneDNN pooling primitive on channels-last data, with the conversions into and out of that
// layout that the runtime's layouts need. Scratch: [oneDNN scratchpad | converted input |
// channels-last output].
class Int8PoolKernel final : public Kernel {
 public:
  void run(const KernelArgs& a) const override {
    auto* s = static_cast<PoolState*>(a.state);
    char* scratch = static_cast<char*>(a.scratch);
    const void* src = a.inputs[0];
    if (in_convert_.active()) {
      in_convert_.run(src, scratch + in_offset_, s->in_from, s->in_to);
      src = scratch + in_offset_;
    }
    void* dst = out_convert_.active() ? scratch + out_offset_ : a.outputs[0];
    s->src.set_data_handle(const_cast<void*>(src));
    s->dst.set_data_handle(dst);
    s->scratchpad.set_data_handle(scratch);
    execute(
        prim_,
        {{DNNL_ARG_SRC, &s->src}, {DNNL_ARG_DST, &s->dst}, {DNNL_ARG_SCRATCHPAD, &s->scratchpad}});
    if (out_convert_.active()) out_convert_.run(dst, a.outputs[0], s->out_from, s->out_to);
  }
  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<PoolState>();
    in_convert_.make_memories(s->in_from, s->in_to);
    out_convert_.make_memories(s->out_from, s->out_to);
    s->src = memory(src_, engine(), DNNL_MEMORY_NONE);
    s->dst = memory(dst_, engine(), DNNL_MEMORY_NONE);
    s->scratchpad = memory(scratchpad_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  size_t scratch_bytes() const override { return scratch_bytes_; }
  std::string impl() const override { return "onednn:" + impl_; }

  dnnl::pooling_v2_forward prim_;
  memory::desc src_, dst_, scratchpad_;
  LayoutStep in_convert_, out_convert_;
  size_t in_offset_ = 0, out_offset_ = 0, scratch_bytes_ = 0;
  std::string impl_;
};

// A pooling kernel for `x` and `y` read as [N, C, spatial...]. `x_desc` / `y_desc` describe where
// the input is and the output must go; `post_ops` holds a requantization, or nothing.
std::unique_ptr<Kernel> make_pool_kernel(KernelContext& ctx, const Shape& x, const Shape& y,
                                         const memory::desc& x_desc, const memory::desc& y_desc,
                                         dnnl::algorithm alg, const Window& w,
                                         const dnnl::post_ops& post_ops) {
  const DType type = ctx.input(0).dtype;
  const memory::desc src = channels_last_desc(type, x);
  const memory::desc dst = channels_last_desc(type, y);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  attr.set_post_ops(post_ops);
  dnnl::pooling_v2_forward::primitive_desc pd;
  try {
    pd = dnnl::pooling_v2_forward::primitive_desc(
        dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dst, w.strides,
                                       w.kernel, w.dilation, w.pad_l, w.pad_r),
        attr, engine());
  } catch (const dnnl::error&) {
    return nullptr;
  }
  auto k = std::make_unique<Int8PoolKernel>();
  k->prim_ = dnnl::pooling_v2_forward(pd);
  k->impl_ = pd.impl_info_str();
  k->src_ = src;
  k->dst_ = dst;
  k->scratchpad_ = pd.scratchpad_desc();
  size_t end = align64(k->scratchpad_.get_size());
  if (x_desc != src) {
    k->in_convert_ = LayoutStep(x_desc, src);
    k->in_offset_ = end;
    end += align64(src.get_size());
  }
  if (y_desc != dst) {
    k->out_convert_ = LayoutStep(dst, y_desc);
    k->out_offset_ = end;
    end += align64(dst.get_size());
  }
  k->scratch_bytes_ = end;
  return k;
}

// The channels-last output layout when blocked layouts are allowed, else plain.
memory::desc pool_output_desc(KernelContext& ctx, const Shape& y) {
  const TensorDesc& out = ctx.outputs.at(0);
  const memory::desc plain = plain_desc(out.dtype, out.shape);
  if (!ctx.blocked_layouts) return plain;
  const memory::desc desc = channels_last_desc(out.dtype, y);
  ctx.outputs[0].layout = layout_from_desc(desc, plain);
  return desc;
}

bool int8_window_input(const TensorDesc& x) {
  return is_quant_type(x.dtype) && x.rank() >= 3 && x.rank() <= 5 && x.numel() > 0;
}

// [N, C, spatial...] from [N, spatial..., C].
Shape channels_first(const Shape& shape) {
  Shape out = shape;
  out[1] = shape.back();
  std::copy(shape.begin() + 1, shape.end() - 1, out.begin() + 2);
  return out;
}

bool channels_last_attr(const Node& node) { return node.attr_int("channels_last", 0) == 1; }

}  // namespace

std::unique_ptr<Kernel> make_int8_max_pool(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  if (!int8_window_input(x)) return nullptr;
  if (ctx.outputs.size() > 1 && ctx.outputs[1].present()) return nullptr;  // Indices
  const Shape& y = ctx.outputs.at(0).shape;
  const std::optional<Window> w = pool_window(ctx.node, x.shape, y, /*is_max=*/true);
  if (!w) return nullptr;
  const memory::desc x_desc = desc_of(x.layout, plain_desc(x.dtype, x.shape));
  const memory::desc y_desc = pool_output_desc(ctx, y);
  auto k = make_pool_kernel(ctx, x.shape, y, x_desc, y_desc, dnnl::algorithm::pooling_max, *w,
                            dnnl::post_ops());
  if (!k) ctx.outputs[0].layout = Layout{};
  return k;
}

std::unique_ptr<Kernel> make_qlinear_average_pool(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& out = ctx.outputs.at(0);
  if (!int8_window_input(x) || out.dtype != x.dtype || !x86::rounds_half_even()) return nullptr;
  const QuantParamSource x_params = tensor_params(ctx, 1, 2, x.dtype, "x");
  const QuantParamSource y_params = tensor_params(ctx, 3, 4, x.dtype, "y");
  if (!x_params.known() || !y_params.known()) return nullptr;
  const bool last = channels_last_attr(ctx.node);
  if (last && !x.layout.plain()) return nullptr;
  const Shape x_shape = last ? channels_first(x.shape) : x.shape;
  const Shape y_shape = last ? channels_first(out.shape) : out.shape;
  const std::optional<Window> w = pool_window(ctx.node, x_shape, y_shape, /*is_max=*/false);
  if (!w) return nullptr;
  const KernelArgs none{};
  const float x_scale = x_params.scale(none, 0), y_scale = y_params.scale(none, 0);
  const int32_t x_zero_point = x_params.zero_point(none, 0);
  const int32_t y_zero_point = y_params.zero_point(none, 0);
  // Padding counted in the divisor adds a dequantized 0 in the reference, a raw 0 in oneDNN.
  bool padded = false;
  for (size_t i = 0; i < w->pad_l.size(); ++i) padded |= w->pad_l[i] > 0 || w->pad_r[i] > 0;
  if (w->include_pad && padded && x_zero_point != 0) return nullptr;
  // Eq. (55): y = round(r · mean(x) + (z_y − r · z_x)), r = s_x / s_y, on oneDNN's float mean.
  const float ratio = x_scale / y_scale;
  dnnl::post_ops requantize;
  requantize.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, ratio,
                            static_cast<float>(y_zero_point) - ratio * x_zero_point);

  memory::desc x_desc, y_desc;
  if (last) {  // [N, spatial..., C] in plain memory is channels-last [N, C, spatial...]
    x_desc = channels_last_desc(x.dtype, x_shape);
    y_desc = channels_last_desc(x.dtype, y_shape);
  } else {
    x_desc = desc_of(x.layout, plain_desc(x.dtype, x.shape));
    y_desc = pool_output_desc(ctx, y_shape);
  }
  const auto alg = w->include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                  : dnnl::algorithm::pooling_avg_exclude_padding;
  auto k = make_pool_kernel(ctx, x_shape, y_shape, x_desc, y_desc, alg, *w, requantize);
  if (!k) ctx.outputs[0].layout = Layout{};
  return k;
}

namespace {

struct GlobalPoolParams {
  int64_t batch = 0, channels = 0, image = 0;
  int32_t x_zero_point = 0, y_zero_point = 0;
  float multiplier = 0.f;     // s_x / (s_y · n), or s_x / n for a float result; as the reference
  bool float_output = false;  // DequantizeGlobalAveragePool (eq. (152))
};

struct GlobalPoolState final : KernelState {
  memory from, to;
};

// Eqs. (42), (57) in two passes: the raw sums Σ x of every (image, channel) into int32 scratch
// (|Σ x| <= 255 · n < 2^31, checked when made), then acc = Σ x − n · z_x (exact in int64, wrapped
// to int32 as the reference wraps Σ (x − z_x)) and one vectorized requantization of all of them.
// Scratch: [sums, N · C int32 | the input converted to channels-last].
template <class Q>
class GlobalAveragePoolKernel final : public Kernel {
 public:
  GlobalAveragePoolKernel(GlobalPoolParams p, bool channels_last, LayoutStep convert)
      : p_(p), channels_last_(channels_last), convert_(std::move(convert)) {
    convert_offset_ = align64(static_cast<size_t>(p.batch * p.channels) * sizeof(int32_t));
  }

  void run(const KernelArgs& a) const override {
    const Q* x = static_cast<const Q*>(a.inputs[0]);
    if (convert_.active()) {
      auto* s = static_cast<GlobalPoolState*>(a.state);
      void* converted = static_cast<char*>(a.scratch) + convert_offset_;
      convert_.run(x, converted, s->from, s->to);
      x = static_cast<const Q*>(converted);
    }
    int32_t* sums = static_cast<int32_t*>(a.scratch);
    if (channels_last_) {
      sum_channels_last(x, sums);
    } else {
      sum_planes(x, sums);
    }
    const int64_t count = p_.batch * p_.channels;
    const int64_t offset = p_.image * p_.x_zero_point;
    for (int64_t i = 0; i < count; ++i) sums[i] = wrap_to_int32(sums[i] - offset);
    if (p_.float_output) {
      float* y = static_cast<float*>(a.outputs[0]);
      for (int64_t i = 0; i < count; ++i) y[i] = static_cast<float>(sums[i]) * p_.multiplier;
      return;
    }
    x86::requantize_loop(sums, static_cast<Q*>(a.outputs[0]), count, p_.multiplier,
                         p_.y_zero_point);
  }
  std::unique_ptr<KernelState> make_state() const override {
    if (!convert_.active()) return nullptr;
    auto s = std::make_unique<GlobalPoolState>();
    convert_.make_memories(s->from, s->to);
    return s;
  }
  size_t scratch_bytes() const override {
    const size_t converted = static_cast<size_t>(p_.batch * p_.channels * p_.image) * sizeof(Q);
    return convert_offset_ + (convert_.active() ? converted : 0);
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  // Each channel's values are contiguous.
  void sum_planes(const Q* x, int32_t* sums) const {
    for (int64_t plane = 0; plane < p_.batch * p_.channels; ++plane) {
      const Q* values = x + plane * p_.image;
      int32_t sum = 0;
      for (int64_t i = 0; i < p_.image; ++i) sum += values[i];
      sums[plane] = sum;
    }
  }
  // [N, spatial, C]: an image's channel sums advance together, one position at a time.
  void sum_channels_last(const Q* x, int32_t* sums) const {
    for (int64_t n = 0; n < p_.batch; ++n) {
      int32_t* image_sums = sums + n * p_.channels;
      for (int64_t channel = 0; channel < p_.channels; ++channel) image_sums[channel] = 0;
      const Q* image = x + n * p_.image * p_.channels;
      for (int64_t position = 0; position < p_.image; ++position) {
        const Q* values = image + position * p_.channels;
        for (int64_t channel = 0; channel < p_.channels; ++channel) {
          image_sums[channel] += values[channel];
        }
      }
    }
  }

  GlobalPoolParams p_;
  bool channels_last_;
  LayoutStep convert_;
  size_t convert_offset_ = 0;
};

}  // namespace

std::unique_ptr<Kernel> make_qlinear_global_average_pool(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  // QLinearGlobalAveragePool, or the internal DequantizeGlobalAveragePool with a float result.
  const bool float_output = ctx.node.domain == kInternalDomain;
  if (!int8_window_input(x) ||
      ctx.outputs.at(0).dtype != (float_output ? DType::kFloat32 : x.dtype)) {
    return nullptr;
  }
  const QuantParamSource x_params = tensor_params(ctx, 1, 2, x.dtype, "x");
  const std::optional<QuantParamSource> y_params =
      float_output ? std::nullopt : std::optional(tensor_params(ctx, 3, 4, x.dtype, "y"));
  if (!x_params.known() || (y_params && !y_params->known())) return nullptr;
  const bool last = channels_last_attr(ctx.node);
  if (last && !x.layout.plain()) return nullptr;
  const Shape nchw = last ? channels_first(x.shape) : x.shape;
  GlobalPoolParams p;
  p.batch = nchw[0];
  p.channels = nchw[1];
  p.image = shape_numel(std::span(nchw).subspan(2));
  // The int32 channel sums hold 255 · n.
  if (p.image > std::numeric_limits<int32_t>::max() / 255) return nullptr;
  if (!x86::rounds_half_even()) return nullptr;
  const KernelArgs none{};
  p.x_zero_point = x_params.zero_point(none, 0);
  p.float_output = float_output;
  if (float_output) {
    p.multiplier = x_params.scale(none, 0) / static_cast<float>(p.image);
  } else {
    p.y_zero_point = y_params->zero_point(none, 0);
    p.multiplier =
        x_params.scale(none, 0) / (y_params->scale(none, 0) * static_cast<float>(p.image));
  }

  LayoutStep convert;
  bool channels_last = last;
  if (!x.layout.plain()) {
    const memory::desc wanted = channels_last_desc(x.dtype, x.shape);
    const memory::desc& stored = desc_of(x.layout, wanted);
    if (stored != wanted) convert = LayoutStep(stored, wanted);
    channels_last = true;
  }
  return visit_quant_type(x.dtype, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<GlobalAveragePoolKernel<Q>>(p, channels_last, std::move(convert));
  });
}

}  // namespace quench::onednn

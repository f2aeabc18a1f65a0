// Integer convolution on oneDNN (QLinearConv, QFusedConv): s8 weights packed once into the
// primitive's preferred layout, u8/s8 activations kept in its layout (channels-last) between
// convolutions, the requantization of eqs. (45)-(47) as output scales, zero points and post-ops.
#include "kernels/onednn/qconv.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "core/requantize.h"
#include "kernels/layout.h"
#include "kernels/onednn/context.h"
#include "kernels/onednn/conv_primitive.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/post_ops.h"
#include "kernels/onednn/qlayout.h"
#include "ops/fused.h"
#include "ops/quantized/params.h"
#include "ops/quantized/qfused.h"

namespace quench::onednn {

using dnnl::memory;
using dt = memory::data_type;

bool Int8Requant::finite() const {
  return std::isfinite(sum_scale) &&
         std::all_of(scales.begin(), scales.end(), [](float s) { return std::isfinite(s); });
}

dnnl::primitive_attr Int8Requant::attr(int channel_mask, bool dst_zero_point_as_post_op,
                                       int* binary_index) const {
  if (binary_index != nullptr) *binary_index = -1;
  dnnl::primitive_attr a;
  a.set_output_scales(scales.size() > 1 ? channel_mask : 0, scales);
  // Constant zero points: oneDNN folds them into its compensation when the primitive is made.
  if (src_zero_point_at_run_time) {
    a.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  } else if (src_zero_point != 0) {
    a.set_zero_points(DNNL_ARG_SRC, 0, {src_zero_point});
  }
  if (weights_zero_point != 0) a.set_zero_points(DNNL_ARG_WEIGHTS, 0, {weights_zero_point});
  if (dst_zero_point != 0 && !dst_zero_point_as_post_op) {
    a.set_zero_points(DNNL_ARG_DST, 0, {dst_zero_point});
  }
  dnnl::post_ops ops;
  // The sum comes before the clamp (eq. (45)); oneDNN applies post-ops in order.
  if (has_sum) ops.append_sum(sum_scale, sum_zero_point, sum_type);
  if (function.active() && inv_steps.empty()) {
    // Swish at one step t for all channels, on values in output steps v = r/t: swish(r)/t =
    // v·sigmoid(t·v), oneDNN's swish with alpha t.
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, swish_alpha, 0.f);
  } else if (function.active()) {
    append_activation(ops, function.f);
    Shape per_channel(static_cast<size_t>(dst_rank), 1);
    per_channel[1] = static_cast<int64_t>(inv_steps.size());
    if (binary_index != nullptr) *binary_index = ops.len();
    ops.append_binary(dnnl::algorithm::binary_mul, plain_desc(DType::kFloat32, per_channel));
  }
  constexpr float kMax = std::numeric_limits<float>::max();
  if (low && *low == 0.f && !high) {
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
  } else if (low || high) {
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, std::max(low.value_or(-kMax), -kMax),
                       std::min(high.value_or(kMax), kMax));
  }
  if (dst_zero_point != 0 && dst_zero_point_as_post_op) {
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f,
                       static_cast<float>(dst_zero_point));
  }
  a.set_post_ops(ops);
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

bool read_fused_epilogue(const KernelContext& ctx, float y_scale, Int8Requant& r) {
  using In = QFusedInputs;
  constexpr float kInf = std::numeric_limits<float>::infinity();
  ActBounds bounds;
  try {
    bounds = act_bounds(ctx.node);
  } catch (const Error&) {
    return false;  // the reference kernel reports it
  }
  // Bounds in units of s_y, divided as the reference divides them (eq. (46)).
  if (bounds.min > -kInf) r.low = bounds.min / y_scale;
  if (bounds.max < kInf) r.high = bounds.max / y_scale;
  const Shape& y = ctx.outputs[0].shape;
  const int64_t channels = fused_output_channels(ctx.node, y);
  try {
    r.function = fused_activation(ctx.node, channels);
  } catch (const Error&) {
    return false;
  }
  if (ctx.has_input(In::kYMax)) {
    const TensorDesc& y_max = ctx.input(In::kYMax);
    if (y_max.constant == nullptr || y_max.numel() != channels ||
        y_max.dtype != ctx.outputs[0].dtype) {
      return false;
    }
    r.has_y_max = true;
  }
  if (r.function.active()) {
    if (ctx.has_input(In::kSum)) return false;
    if (r.function.f.kind == ActKind::kSwish && r.function.steps.size() <= 1) {
      r.swish_alpha = r.function.step(0, y_scale);  // scales stay in output steps
      return true;
    }
    // Eq. (150): real scales, the activation, then 1/t per channel (a binary post-op; one t
    // repeated when the steps are per tensor).
    if (r.scales.size() == 1) r.scales.resize(static_cast<size_t>(channels), r.scales[0]);
    r.inv_steps.clear();
    for (size_t c = 0; c < r.scales.size(); ++c) {
      const float step = r.function.step(static_cast<int64_t>(c), y_scale);
      r.scales[c] *= step;
      r.inv_steps.push_back(1.f / step);
    }
    r.dst_rank = static_cast<int>(y.size());
    return true;
  }
  if (!ctx.has_input(In::kSum)) return true;
  const TensorDesc& sum = ctx.input(In::kSum);
  if (!is_quant_type(sum.dtype) || sum.shape != ctx.outputs[0].shape ||
      !ctx.has_input(In::kSumScale)) {
    return false;
  }
  const QuantParamSource params(ctx, In::kSumScale, In::kSumZeroPoint, sum.dtype);
  if (!params.known() || params.size() != 1) return false;
  r.has_sum = true;
  r.sum_scale = params.params().scale(0) / y_scale;
  r.sum_zero_point = params.params().zero_point(0);
  r.sum_type = to_dnnl(sum.dtype);
  return true;
}

std::vector<int8_t> s8_values(const Tensor& w) {
  std::vector<int8_t> out(static_cast<size_t>(w.numel()));
  std::memcpy(out.data(), w.raw_data(), out.size());
  if (w.dtype() == DType::kUInt8) {
    for (int8_t& v : out) v = static_cast<int8_t>(static_cast<uint8_t>(v) ^ 0x80);
  }
  return out;
}

bool int32_output_exact(const int8_t* w, int64_t outputs, int64_t taps, int64_t output_stride,
                        int64_t tap_stride, int32_t w_zero_point) {
  constexpr int64_t kBound = int64_t{1} << 15;  // 512 · 2^15 = 2^24
  const int64_t zero_point = std::abs(w_zero_point);
  if (w == nullptr) return taps * (128 + zero_point) <= kBound;
  for (int64_t output = 0; output < outputs; ++output) {
    int64_t total = taps * zero_point;  // < 2^40: taps < 2^32
    for (int64_t tap = 0; tap < taps; ++tap) {
      total += std::abs(int64_t{w[output * output_stride + tap * tap_stride]});
    }
    if (total > kBound) return false;
  }
  return true;
}

Int8ConvLayer Int8ConvLayer::of(const Shape& weights, const Shape& output, int64_t groups) {
  Int8ConvLayer layer;
  layer.groups = groups;
  layer.out_channels = weights[0];
  layer.in_channels_per_group = weights[1];
  layer.taps = shape_numel(weights) / std::max<int64_t>(weights[0] * weights[1], 1);
  layer.out_width = output.back();
  layer.out_positions =
      shape_numel(output) / std::max<int64_t>(output.size() > 1 ? output[1] : 1, 1);
  layer.macs = shape_numel(output) * layer.in_channels_per_group * layer.taps;
  return layer;
}

std::span<const std::string_view> preferred_int8_conv_impls(const Int8ConvLayer& layer, bool amx) {
  static constexpr std::string_view kAmx[] = {"brgconv:avx512_core_amx",
                                              "brgconv_1x1:avx512_core_amx", "jit_int8"};
  static constexpr std::string_view kAmxLarge[] = {
      "brgconv:avx512_core_amx", "brgconv_1x1:avx512_core_amx", "jit:avx512_core_amx", "jit_int8"};
  static constexpr std::string_view kDirect[] = {"jit_int8"};
  static constexpr std::string_view kBrgemm1x1[] = {"brgconv_1x1", "jit_int8"};
  static constexpr std::string_view kBrdgmm[] = {"brdgmm_dw", "jit_int8"};
  using Names = std::span<const std::string_view>;
  if (layer.groups == 1) {
    // At batch 1: mobilenet_v2's last 1x1 (320 -> 1280 at 7x7) 0.118 -> 0.061 ms, its 160 -> 960
    // layers 0.047 -> 0.026 ms; at 98 positions or 320 channels the two are even
    // (bench/int8_conv_impls.cc).
    if (!amx && layer.taps == 1 && layer.out_positions <= 64 && layer.out_channels >= 512) {
      return kBrgemm1x1;
    }
    if (!amx || layer.in_channels_per_group * layer.taps < 64) return kDirect;
    return layer.macs >= (int64_t{1} << 24) ? Names(kAmxLarge) : Names(kAmx);
  }
  const bool depthwise = layer.groups == layer.out_channels && layer.in_channels_per_group == 1;
  if (depthwise) return layer.out_width > 7 ? Names(kDirect) : Names(kBrdgmm);
  return {};
}

namespace {

using tag = memory::format_tag;

// QLinearConv's inputs; QFusedConv's sum follows (QFusedInputs, read_fused_epilogue).
enum : size_t { kX, kXScale, kXZeroPoint, kW, kWScale, kWZeroPoint, kYScale, kYZeroPoint, kBias };

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

bool has_padding(const ConvGeometry& g) {
  for (size_t i = 0; i < g.pad_l.size(); ++i) {
    if (g.pad_l[i] != 0 || g.pad_r[i] != 0) return true;
  }
  return false;
}

// Eq. (48) folded into the bias: B'[c] = B[c] − z_x · Σ_k w[c, k], exact when no tap falls in the
// padding. nullopt when a folded value would leave int32 (oneDNN then applies z_x itself).
std::optional<std::vector<int32_t>> fold_src_zero_point(const int8_t* weights, int64_t channels,
                                                        int64_t taps, const int32_t* bias,
                                                        int32_t src_zero_point) {
  std::vector<int32_t> folded(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    int64_t sum = 0;
    for (int64_t k = 0; k < taps; ++k) sum += weights[c * taps + k];
    const int64_t value = (bias ? bias[c] : 0) - int64_t{src_zero_point} * sum;
    if (value < std::numeric_limits<int32_t>::min() ||
        value > std::numeric_limits<int32_t>::max()) {
      return std::nullopt;
    }
    folded[static_cast<size_t>(c)] = static_cast<int32_t>(value);
  }
  return folded;
}

// An int8 convolution of input 0 by constant s8 weights, however its node gave them.
struct Int8ConvSpec {
  const int8_t* weights = nullptr;  // plain [O, I/groups, kernel...]
  Shape weight_shape;
  const int32_t* bias = nullptr;  // one per output channel, or null
  Int8Requant requant;
  RuntimeZeroPoint src_zero_point;  // set when requant.src_zero_point_at_run_time
  int sum_input = -1;               // with requant.has_sum
};

std::unique_ptr<Kernel> make_int8_conv(KernelContext& ctx, Int8ConvSpec spec) {
  if (!spec.requant.finite()) return nullptr;
  const TensorDesc& x = ctx.input(0);
  const TensorDesc& y = ctx.outputs[0];
  const int64_t out_channels = spec.weight_shape[0];
  const std::optional<ConvGeometry> g = conv_geometry(ctx.node, x.shape, spec.weight_shape);
  if (!g) return nullptr;
  Int8Requant& requant = spec.requant;
  // Without padding, a constant source zero point goes into the bias (eq. (48)).
  std::optional<std::vector<int32_t>> folded_bias;
  if (requant.src_zero_point != 0 && !requant.src_zero_point_at_run_time && !has_padding(*g)) {
    folded_bias = fold_src_zero_point(spec.weights, out_channels,
                                      shape_numel(spec.weight_shape) / out_channels, spec.bias,
                                      requant.src_zero_point);
    if (folded_bias) requant.src_zero_point = 0;
  }
  const int32_t* bias = folded_bias ? folded_bias->data() : spec.bias;
  const memory::desc src_any(to_dims(x.shape), to_dnnl(x.dtype), tag::any);
  const memory::desc w_any(g->weight_dims, dt::s8, tag::any);
  const memory::desc dst_md = ctx.blocked_layouts
                                  ? memory::desc(to_dims(y.shape), to_dnnl(y.dtype), tag::any)
                                  : plain_desc(y.dtype, y.shape);
  const memory::desc bias_md({out_channels}, dt::s32, tag::a);
  const Int8ConvLayer layer = Int8ConvLayer::of(spec.weight_shape, y.shape, g->groups);
  int binary_index = -1;
  const dnnl::primitive_attr attr = requant.attr(1 << 1, true, &binary_index);
  auto primitive = [&](const memory::desc& dst) {
    return conv_primitive_desc(src_any, w_any, bias ? &bias_md : nullptr, dst, *g, attr,
                               preferred_int8_conv_impls(layer, uses_amx()));
  };
  auto pd = primitive(dst_md);
  // Eq. (157)'s bounds: a pass over the output after the primitive, which needs it plain or
  // channels last (a per-channel binary_min post-op instead made oneDNN 2.6's direct kernels
  // slower than the pass costs: mobilenetv2 after cross-layer equalization, batch 32, 6.6 ms
  // against 5.35).
  if (pd && requant.has_y_max) {
    const Layout dst = layout_from_desc(pd->dst_desc(), plain_desc(y.dtype, y.shape));
    if (!dst.plain() && !is_channels_last(dst, y.shape)) {
      pd = primitive(channels_last_desc(y.dtype, y.shape));
    }
  }
  // No implementation, or only oneDNN's reference one: quench's reference kernel runs instead.
  if (!pd || std::string_view(pd->impl_info_str()).starts_with("ref")) return nullptr;
  ConvSetup setup;
  setup.src = &x;
  setup.weights = spec.weights;
  setup.weights_plain =
      plain_desc(DType::kInt8, Shape(g->weight_dims.begin(), g->weight_dims.end()));
  if (bias) {
    setup.bias = bias;
    setup.bias_desc = bias_md;
  }
  if (requant.has_sum) {
    setup.sum_input = spec.sum_input;
    setup.sum_type = requant.sum_type;
  }
  setup.src_zero_point = spec.src_zero_point;
  if (requant.has_y_max) setup.y_max = ctx.input(QFusedInputs::kYMax).constant;
  if (binary_index >= 0) {
    setup.binary_index = binary_index;
    setup.binary_values = requant.inv_steps;
    Shape per_channel(y.shape.size(), 1);
    per_channel[1] = out_channels;
    setup.binary_desc = plain_desc(DType::kFloat32, per_channel);
  }
  return make_conv_kernel(*pd, setup, ctx);
}

std::unique_ptr<Kernel> make_qconv_kernel(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(kX);
  const TensorDesc& w = ctx.input(kW);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(x.dtype) || !is_quant_type(y.dtype) || w.dtype != DType::kInt8 ||
      w.constant == nullptr || x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank() ||
      x.numel() == 0 || y.numel() == 0) {
    return nullptr;
  }
  const int64_t out_channels = w.shape[0];
  Int8ConvSpec spec;
  if (ctx.has_input(kBias)) {
    const TensorDesc& bias = ctx.input(kBias);
    if (bias.dtype != DType::kInt32 || bias.constant == nullptr || bias.numel() != out_channels) {
      return nullptr;
    }
    spec.bias = static_cast<const int32_t*>(bias.constant->raw_data());
  }
  std::optional<Int8Requant> requant = read_requant(ctx, out_channels);
  if (!requant) return nullptr;
  spec.requant = std::move(*requant);
  spec.weights = static_cast<const int8_t*>(w.constant->raw_data());
  spec.weight_shape = w.shape;
  spec.sum_input = static_cast<int>(QFusedInputs::kSum);
  return make_int8_conv(ctx, std::move(spec));
}

}  // namespace

std::unique_ptr<Kernel> make_qconv(KernelContext& ctx) {
  return int8_products_exact() ? make_qconv_kernel(ctx) : nullptr;
}

std::unique_ptr<Kernel> make_conv_integer(KernelContext& ctx) {
  if (!int8_products_exact()) return nullptr;
  enum : size_t { kXInt, kWInt, kXZeroPointInt, kWZeroPointInt };
  constexpr size_t kNoScale = QuantParamSource::kNoScale;
  const TensorDesc& x = ctx.input(kXInt);
  const TensorDesc& w = ctx.input(kWInt);
  const TensorDesc& y = ctx.outputs[0];
  if (!is_quant_type(x.dtype) || !is_quant_type(w.dtype) || y.dtype != DType::kInt32 ||
      w.constant == nullptr || x.rank() < 3 || x.rank() > 5 || w.rank() != x.rank() ||
      x.numel() == 0 || y.numel() == 0) {
    return nullptr;
  }
  // The weights as s8 with zero point 0: s8 with 0, or u8 with 128 (eq. (49)).
  const QuantParamSource w_params(ctx, kNoScale, kWZeroPointInt, w.dtype);
  if (!w_params.known()) return nullptr;
  const int32_t neutral = w.dtype == DType::kUInt8 ? 128 : 0;
  for (int32_t zero_point : w_params.params().zero_points) {
    if (zero_point != neutral) return nullptr;
  }
  const std::vector<int8_t> weights = s8_values(*w.constant);
  const int64_t out_channels = w.shape[0];
  const int64_t taps = w.numel() / std::max<int64_t>(out_channels, 1);
  if (!int32_output_exact(weights.data(), out_channels, taps, taps, 1, 0)) return nullptr;

  Int8ConvSpec spec;
  spec.weights = weights.data();
  spec.weight_shape = w.shape;
  spec.requant.scales = {1.f};  // the default: oneDNN adds no scaling
  const QuantParamSource x_params(ctx, kNoScale, kXZeroPointInt, x.dtype);
  if (x_params.known()) {
    if (x_params.size() != 1) return nullptr;
    spec.requant.src_zero_point = x_params.params().zero_point(0);
  } else {
    if (ctx.input(kXZeroPointInt).numel() != 1) return nullptr;
    spec.requant.src_zero_point_at_run_time = true;
    spec.src_zero_point = RuntimeZeroPoint{static_cast<int>(kXZeroPointInt), x.dtype};
  }
  return make_int8_conv(ctx, std::move(spec));
}

}  // namespace quench::onednn

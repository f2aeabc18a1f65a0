// Integer convolutions on the x86 GEMM core (int8_conv.h): the ops' own preparation
// (make_int_conv, ChannelMultipliers, FusedRequant), the plan, and the kernel that fills
// the epilogue at every run and calls the AVX2 code.
#include "kernels/x86/int8_conv.h"

#include <algorithm>
#include <cfenv>
#include <optional>

#include "kernels/layout.h"
#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemm.h"
#include "ops/conv.h"
#include "ops/fused.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/qfused.h"

namespace quench::x86 {
namespace {

// The weights one pass over the output positions multiplies: they stay in L2.
constexpr int64_t kPanelGroupBytes = 128 * 1024;
// Elements a whole-vector read or write may pass the end of a run by (int8_conv_avx2.cc).
constexpr int64_t kSlack = 64;

size_t round64(int64_t bytes) { return static_cast<size_t>(round_up(bytes, 64)); }

int32_t make_pair(int16_t low, int16_t high) {
  return static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(high)) << 16) |
                              static_cast<uint16_t>(low));
}

// The geometry with three spatial dims (leading 1s); false for what the plan does not take.
bool set_geometry(const ref::ConvGeometry& g, ConvPlan& p) {
  const int rank = g.spatial_rank();
  if (rank < 1 || rank > 3 || g.group <= 0) return false;
  p.batch = g.batch;
  p.groups = g.group;
  p.out_channels = g.out_channels;
  p.in_per_group = g.in_channels / g.group;
  p.out_per_group = g.out_channels / g.group;
  for (int d = 0; d < 3; ++d) {
    const int from = d - (3 - rank);
    const bool real = from >= 0;
    p.in_size[d] = real ? g.in_size[from] : 1;
    p.out_size[d] = real ? g.out_size[from] : 1;
    p.kernel[d] = real ? g.kernel[from] : 1;
    p.strides[d] = real ? g.strides[from] : 1;
    p.dilations[d] = real ? g.dilations[from] : 1;
    p.pads[d] = real ? g.pads_begin[from] : 0;
    if (p.pads[d] < 0 || p.strides[d] < 1 || p.dilations[d] < 1) return false;
    // Padded extent: the input after its leading padding, or the last position a tap reads.
    p.padded[d] = std::max(p.pads[d] + p.in_size[d], (p.out_size[d] - 1) * p.strides[d] +
                                                         (p.kernel[d] - 1) * p.dilations[d] + 1);
  }
  p.taps = p.kernel[0] * p.kernel[1] * p.kernel[2];
  p.in_plane = p.in_size[0] * p.in_size[1] * p.in_size[2];
  p.out_plane = p.out_size[0] * p.out_size[1] * p.out_size[2];
  p.positions = p.batch * p.out_plane;
  return p.in_per_group > 0 && p.out_per_group > 0 && p.out_plane > 0 && p.batch > 0;
}

// Tap offsets (in positions of the padded input) of both paths.
void plan_taps(ConvPlan& p) {
  const auto& [padded_depth, padded_height, padded_width] = p.padded;
  p.padded_positions = padded_depth * padded_height * padded_width;
  for (int64_t kd = 0; kd < p.kernel[0]; ++kd) {
    for (int64_t kh = 0; kh < p.kernel[1]; ++kh) {
      for (int64_t kw = 0; kw < p.kernel[2]; ++kw) {
        p.tap_offsets.push_back((kd * p.dilations[0] * padded_height + kh * p.dilations[1]) *
                                    padded_width +
                                kw * p.dilations[2]);
      }
    }
  }
}

// Weights w [O][C/group][taps] (centered) as B's panels, and the padded input's strides. With one
// input channel (a first layer), pairs are taps (kw, kw + 1) of the channel instead of channels,
// which halves the reduction: the centered input holds (x[q], x[q + dilation]) at position q.
void plan_gemm(ConvPlan& p, const int16_t* w) {
  p.path = ConvPath::kGemm;
  const bool tap_pairs = p.in_per_group == 1 && p.groups == 1 && p.kernel[2] > 1;
  p.pairs_per_group = tap_pairs ? 1 : pair_count(p.in_per_group);
  plan_taps(p);
  // The reduction, pair by pair: (tap, channel pair) in B's order, and the first tap's position.
  std::vector<std::array<int64_t, 3>> pairs;  // {tap of the even k, of the odd k or -1, channel}
  if (tap_pairs) {
    p.pair_shift = p.dilations[2];
    std::vector<int64_t> offsets;
    for (int64_t tap = 0; tap < p.taps; ++tap) {
      const int64_t kw = tap % p.kernel[2];
      if (kw % 2 != 0) continue;
      offsets.push_back(p.tap_offsets[tap]);
      pairs.push_back({tap, kw + 1 < p.kernel[2] ? tap + 1 : -1, 0});
    }
    p.tap_offsets = offsets;
  } else {
    for (int64_t tap = 0; tap < p.taps; ++tap) {
      for (int64_t pair = 0; pair < p.pairs_per_group; ++pair) {
        pairs.push_back({tap, tap, 2 * pair});
      }
    }
  }
  p.k_pairs = static_cast<int64_t>(pairs.size());
  p.position_pairs = p.groups * p.pairs_per_group;
  for (int64_t& offset : p.tap_offsets) offset *= p.position_pairs;
  p.image_stride = p.padded_positions * p.position_pairs;
  for (int64_t slot = 0; slot < 2 * p.position_pairs; ++slot) {
    const int64_t group = slot / (2 * p.pairs_per_group), c = slot % (2 * p.pairs_per_group);
    // With tap pairs, slot 1 is slot 0 of the position pair_shift on, filled after centering.
    p.slot_channels.push_back(
        c < p.in_per_group && !(tap_pairs && c == 1) ? group * p.in_per_group + c : -1);
  }
  p.input_bytes = round64((p.batch * p.image_stride + kSlack) * 4);
  p.panels_per_group = ceil_div(p.out_per_group, kTileCols);
  const int64_t panel_size = p.k_pairs * kTileCols;
  p.weights.assign(static_cast<size_t>(p.groups * p.panels_per_group * panel_size), 0);
  const int64_t channels = p.in_per_group;
  for (int64_t o = 0; o < p.out_channels; ++o) {
    const int64_t group = o / p.out_per_group, in_group = o % p.out_per_group;
    int32_t* panel = p.weights.data() +
                     (group * p.panels_per_group + in_group / kTileCols) * panel_size +
                     in_group % kTileCols;
    const int16_t* filter = w + o * channels * p.taps;
    for (int64_t k = 0; k < p.k_pairs; ++k) {
      const auto& [even_tap, odd_tap, c] = pairs[k];
      const int16_t even = filter[c * p.taps + even_tap];
      int16_t odd = 0;
      if (tap_pairs) {
        if (odd_tap >= 0) odd = filter[odd_tap];
      } else if (c + 1 < channels) {
        odd = filter[(c + 1) * p.taps + odd_tap];
      }
      panel[k * kTileCols] = make_pair(even, odd);
    }
  }
  p.panel_group = std::max<int64_t>(1, kPanelGroupBytes / (panel_size * 4));
}

// Weights w [O][1][taps] (centered) as tap pairs, 16 channels per block in the lane order of
// vpunpcklwd / vpunpckhwd (channels 0-3 and 8-11, then 4-7 and 12-15).
void plan_depthwise(ConvPlan& p, const int16_t* w) {
  p.path = ConvPath::kDepthwise;
  plan_taps(p);
  if (p.taps % 2 != 0) p.tap_offsets.push_back(p.tap_offsets[0]);  // paired with weight 0
  p.tap_pairs = pair_count(p.taps);
  const int64_t blocks = ceil_div(p.out_channels, kTileCols);
  // Lane j of block b reads the input channel of output channel 16 b + j.
  for (int64_t o = 0; o < blocks * kTileCols; ++o) {
    p.slot_channels.push_back(o < p.out_channels ? o / p.out_per_group : -1);
  }
  p.weights.assign(static_cast<size_t>(blocks * p.tap_pairs * kTileCols), 0);
  for (int64_t o = 0; o < p.out_channels; ++o) {
    const int64_t in_block = o % kTileCols;
    const int64_t lane = (in_block / 4 % 2) * 8 + in_block / 8 * 4 + in_block % 4;
    const int16_t* filter = w + o * p.taps;
    for (int64_t pair = 0; pair < p.tap_pairs; ++pair) {
      const int64_t tap = 2 * pair;
      const int16_t odd = tap + 1 < p.taps ? filter[tap + 1] : int16_t{0};
      p.weights[(o / kTileCols * p.tap_pairs + pair) * kTileCols + lane] =
          make_pair(filter[tap], odd);
    }
  }
  // The padded input block, the results of a block, the residual sums of a block.
  p.thread_bytes = round64(p.padded_positions * kTileCols * 2) +
                   round64(p.out_plane * kTileCols * 4) + round64(p.out_plane * kTileCols) +
                   round64(kSlack * 4);
}

// Eq. (163)'s weights: w [O][1][KH][KW] (centered) in groups of four kernel rows, each lane's four
// taps (one kernel column) as the int8 bytes vpdpbusd multiplies by the input's; false where a
// centered weight leaves int8 or the convolution is not 2-D depthwise.
bool plan_depthwise_vnni(ConvPlan& p, const int16_t* w) {
  if (p.in_per_group != 1 || p.out_per_group != 1 || p.kernel[0] != 1 || p.in_size[0] != 1) {
    return false;
  }
  const int64_t kernel_h = p.kernel[1], kernel_w = p.kernel[2], taps = p.taps;
  if (!std::all_of(w, w + p.out_channels * taps, [](int16_t v) { return v >= -128 && v <= 127; })) {
    return false;
  }
  p.path = ConvPath::kDepthwiseVnni;
  p.row_groups = ceil_div(kernel_h, 4);
  const int64_t blocks = ceil_div(p.out_channels, kTileCols);
  p.quad_weights.assign(static_cast<size_t>(blocks * p.row_groups * kernel_w * 64), 0);
  p.weight_sums.assign(static_cast<size_t>(blocks * kTileCols), 0);
  for (int64_t o = 0; o < p.out_channels; ++o) {
    const int16_t* filter = w + o * taps;
    for (int64_t kh = 0; kh < kernel_h; ++kh) {
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        const int64_t at = ((o / kTileCols * p.row_groups + kh / 4) * kernel_w + kw) * 64 +
                           o % kTileCols * 4 + kh % 4;
        p.quad_weights[static_cast<size_t>(at)] = static_cast<int8_t>(filter[kh * kernel_w + kw]);
        p.weight_sums[static_cast<size_t>(o)] += filter[kh * kernel_w + kw];
      }
    }
  }
  if (p.row_groups != 1) return true;
  p.wide_groups = p.out_channels / 64;
  p.pair_rows = kernel_h <= 3 && p.strides[1] == 1 && p.dilations[1] == 1;
  p.wide_weights.assign(static_cast<size_t>(p.wide_groups * 2 * kernel_w * 4 * 64), 0);
  for (int64_t group = 0; group < p.wide_groups; ++group) {
    for (int64_t row = 0; row < (p.pair_rows ? 2 : 1); ++row) {
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        for (int64_t v = 0; v < 4; ++v) {
          for (int64_t lane = 0; lane < 16; ++lane) {
            const int64_t o = group * 64 + lane / 4 * 16 + 4 * v + lane % 4;
            for (int64_t kh = 0; kh < kernel_h; ++kh) {
              const int64_t at =
                  ((((group * 2 + row) * kernel_w + kw) * 4 + v) * 16 + lane) * 4 + kh + row;
              p.wide_weights[static_cast<size_t>(at)] =
                  static_cast<int8_t>(w[o * taps + kh * kernel_w + kw]);
            }
          }
        }
      }
    }
  }
  return true;
}

// Which inputs a convolution op takes where.
struct ConvInputs {
  size_t x, x_scale, x_zero_point, w, w_scale, w_zero_point;
  int bias = -1;  // -1: the op has none
};
constexpr size_t kNoScale = QuantParamSource::kNoScale;
constexpr ConvInputs kQLinearInputs{0, 1, 2, 3, 4, 5, 8};
constexpr ConvInputs kIntegerInputs{0, kNoScale, 2, 1, kNoScale, 3, -1};

class ConvKernel final : public Kernel {
 public:
  ConvKernel(ConvPlan plan, ConvInputs in, QuantParamSource x_params, OutKind out)
      : plan_(std::move(plan)), in_(in), x_params_(std::move(x_params)), out_(out) {}

  void set_requant(ChannelMultipliers multipliers, std::optional<QuantParamSource> y,
                   std::optional<FusedRequant> fused, bool has_bias) {
    multipliers_ = std::move(multipliers);
    y_ = std::move(y);
    fused_ = std::move(fused);
    has_bias_ = has_bias;
  }

  void plan_scratch() {
    ScratchPlan scratch;
    multipliers_at_ = scratch.add(multipliers_.scratch_bytes());
    conv_at_ = scratch.add(plan_.path == ConvPath::kDepthwiseVnni
                               ? avx512vnni::depthwise_scratch_bytes(plan_)
                               : avx2::conv_scratch_bytes(plan_));
    scratch_bytes_ = scratch.total();
  }

  void run(const KernelArgs& args) const override {
    Epilogue e;
    e.out = out_;
    if (out_ != OutKind::kS32) {
      e.multipliers = multipliers_.data(args, scratch_at(args.scratch, multipliers_at_));
      e.multiplier_col_stride = 1;
      if (fused_) {
        const FusedRequant::RunParams p = fused_->run_params(args);
        e.zero_point = p.y_zero_point;
        e.low = p.low;
        e.high = p.high;
        if (fused_->has_sum()) {
          e.sum_kind = fused_->sum_type() == DType::kInt8 ? SumKind::kS8 : SumKind::kU8;
          e.sum = args.inputs[QFusedInputs::kSum];
          e.sum_ratio = p.sum_ratio;
          e.sum_zero_point = p.sum_zero_point;
        }
      } else {
        e.zero_point = y_->zero_point(args, 0);
      }
    }
    if (has_bias_) {
      e.bias = static_cast<const int32_t*>(args.inputs[in_.bias]);
      e.bias_col_stride = 1;
    }
    if (e.multipliers != nullptr) {
      e.finite = all_finite(e.multipliers, plan_.out_channels) && std::isfinite(e.sum_ratio);
    }
    const int32_t x_zero_point = x_params_.zero_point(args, 0);
    void* scratch = scratch_at(args.scratch, conv_at_);
    if (plan_.path == ConvPath::kDepthwiseVnni) {
      avx512vnni::depthwise(plan_, args.inputs[in_.x], x_zero_point, e, args.outputs[0], scratch);
    } else {
      avx2::conv(plan_, args.inputs[in_.x], x_zero_point, e, args.outputs[0], scratch);
    }
    if (fused_ && fused_->has_y_max()) {
      // Eq. (157) over the output just written (in cache for a layer's tile-sized outputs).
      const int64_t spatial = plan_.positions / plan_.batch;
      const void* y_max = args.inputs[QFusedInputs::kYMax];
      if (out_ == OutKind::kU8) {
        apply_y_max(static_cast<uint8_t*>(args.outputs[0]), static_cast<const uint8_t*>(y_max),
                    plan_.batch, plan_.out_channels, spatial, plan_.y_channels_last);
      } else {
        apply_y_max(static_cast<int8_t*>(args.outputs[0]), static_cast<const int8_t*>(y_max),
                    plan_.batch, plan_.out_channels, spatial, plan_.y_channels_last);
      }
    }
  }

  size_t scratch_bytes() const override { return scratch_bytes_; }
  // The residual sum is read at each output's own offset before that output is written.
  int inplace_input() const override {
    return fused_ && fused_->has_sum() ? static_cast<int>(QFusedInputs::kSum) : -1;
  }
  std::string impl() const override {
    switch (plan_.path) {
      case ConvPath::kDepthwise:
        return "x86:avx2_depthwise";
      case ConvPath::kDepthwiseVnni:
        return "x86:vnni_depthwise";
      default:
        return "x86:avx2_gemm";
    }
  }

 private:
  ConvPlan plan_;
  ConvInputs in_;
  QuantParamSource x_params_;
  OutKind out_;
  ChannelMultipliers multipliers_;
  std::optional<QuantParamSource> y_;
  std::optional<FusedRequant> fused_;
  bool has_bias_ = false;
  size_t multipliers_at_ = 0, conv_at_ = 0, scratch_bytes_ = 0;
};

// Whether `d` is stored channels last (whoever wrote it); false for plain. nullopt for any other
// layout, which the kernel does not read.
std::optional<bool> channels_last(const TensorDesc& d) {
  if (d.layout.plain()) return false;
  if (is_channels_last(d.layout, d.shape)) return true;
  return std::nullopt;
}

OutKind out_kind(DType t) {
  if (t == DType::kUInt8) return OutKind::kU8;
  if (t == DType::kInt8) return OutKind::kS8;
  return OutKind::kS32;
}

// Which paths make_conv may take: any (the AVX2 kernels), or only eq. (163)'s VNNI depthwise.
enum class ConvPaths { kAvx2, kVnniDepthwise };

std::unique_ptr<Kernel> make_conv(KernelContext& ctx, const ConvInputs& in, bool fused,
                                  ConvPaths paths = ConvPaths::kAvx2) {
  const bool vnni = paths == ConvPaths::kVnniDepthwise;
  if (!cpu_features().avx2 || ctx.outputs.empty()) return nullptr;
  if (vnni && !(cpu_features().avx512 && cpu_features().avx512_vnni)) return nullptr;
  const bool integer = in.bias < 0;
  const TensorDesc& y = ctx.outputs[0];
  if (!ctx.has_input(in.x) || !ctx.has_input(in.w)) return nullptr;
  const TensorDesc& x = ctx.inputs[in.x];
  const TensorDesc& w = ctx.inputs[in.w];
  if (!is_quant_type(x.dtype) || !is_quant_type(w.dtype) || w.constant == nullptr || x.rank() < 3 ||
      x.rank() > 5 || w.rank() != x.rank() || x.numel() == 0 || y.numel() == 0) {
    return nullptr;
  }
  if (integer ? y.dtype != DType::kInt32 : !is_quant_type(y.dtype)) return nullptr;
  // Eq. (59): the vector rounding is round half to even in the default rounding mode only.
  if (!integer && std::fegetround() != FE_TONEAREST) return nullptr;
  const bool has_bias = !integer && ctx.has_input(static_cast<size_t>(in.bias));
  if (has_bias && ctx.inputs[in.bias].dtype != DType::kInt32) return nullptr;
  // Invalid models are left to the reference kernel, which reports them.
  try {
    IntConv c = make_int_conv(ctx, in.x, in.x_scale, in.x_zero_point, in.w, in.w_scale,
                              in.w_zero_point, has_bias ? &ctx.inputs[in.bias].shape : nullptr);
    const ref::ConvGeometry& g = c.geometry;
    // The weights must be centered now: constant, and so are their zero points. IntConv centers
    // them when their scales are constant too; with scales read at run time, center them here
    // in the same layout ([O][C/group · taps], zero points per tensor or per output channel).
    if (c.w.scratch_bytes() != 0) {
      const QuantParamSource zero_points(ctx, kNoScale, in.w_zero_point, w.dtype);
      if (!zero_points.known()) return nullptr;
      CenterLayout layout;
      layout.rows = g.out_channels;
      layout.cols = w.numel() / g.out_channels;
      if (zero_points.size() > 1) layout.zero_points = ParamIndexing{{0}, 1, 0};
      c.w = CenteredOperand(ctx, in.w, zero_points, std::move(layout));
    }
    Shape expected{g.batch, g.out_channels};
    expected.insert(expected.end(), g.out_size.begin(), g.out_size.end());
    if (y.shape != expected) return nullptr;
    ConvPlan plan;
    if (!set_geometry(g, plan)) return nullptr;
    plan.x_signed = x.dtype == DType::kInt8;
    // Layouts: the input's and the residual sum's as given (plain or channels last); the output
    // channels last where the runtime allows blocked layouts and the sum, which it may share a
    // buffer with, is channels last too (or absent).
    const std::optional<bool> x_last = channels_last(x);
    if (!x_last) return nullptr;
    plan.x_channels_last = *x_last;
    bool sum_last = true;
    if (fused && ctx.has_input(QFusedInputs::kSum)) {
      const std::optional<bool> last = channels_last(ctx.inputs[QFusedInputs::kSum]);
      if (!last) return nullptr;
      sum_last = *last;
    }
    plan.y_channels_last = ctx.blocked_layouts && sum_last;
    if (!plan.y_channels_last && fused && ctx.has_input(QFusedInputs::kSum) && sum_last) {
      return nullptr;  // a channels-last sum with a plain output
    }
    plan.threads = std::max(1, ctx.threads);
    const int16_t* centered_w = c.w.data(KernelArgs{}, nullptr);
    if (vnni) {
      if (integer || !plan.x_channels_last || !plan.y_channels_last || plan.groups == 1 ||
          !plan_depthwise_vnni(plan, centered_w)) {
        return nullptr;
      }
    } else if (plan.in_per_group == 1 && plan.groups > 1) {
      // Channels last, a block's 16 lanes read 16 consecutive input channels only when each
      // output channel has its own.
      if (plan.x_channels_last && plan.out_per_group != 1) return nullptr;
      plan_depthwise(plan, centered_w);
    } else {
      plan_gemm(plan, centered_w);
    }
    std::optional<QuantParamSource> y_params;
    std::optional<FusedRequant> requant;
    ChannelMultipliers multipliers;
    if (!integer) {
      if (fused) {
        requant.emplace(ctx, y.shape);
        if (requant->function().active()) return nullptr;  // eq. (150): not in this epilogue
        if (vnni && requant->has_sum()) return nullptr;
        y_params = requant->y();
      } else {
        y_params = tensor_params(ctx, 6, 7, y.dtype, "y");
      }
      multipliers = ChannelMultipliers(c.x_params, c.w_params, *y_params, g.out_channels);
    }
    if (plan.y_channels_last) {
      ctx.outputs[0].layout = channels_last_layout(y.dtype, y.shape);
    }
    auto kernel = std::make_unique<ConvKernel>(std::move(plan), in, c.x_params, out_kind(y.dtype));
    kernel->set_requant(std::move(multipliers), fused ? std::nullopt : std::move(y_params),
                        std::move(requant), has_bias);
    kernel->plan_scratch();
    return kernel;
  } catch (const Error&) {
    return nullptr;
  }
}

}  // namespace

std::unique_ptr<Kernel> make_qconv(KernelContext& ctx) {
  return make_conv(ctx, kQLinearInputs, ctx.node.domain == kInternalDomain);
}

std::unique_ptr<Kernel> make_conv_integer(KernelContext& ctx) {
  return make_conv(ctx, kIntegerInputs, false);
}

std::unique_ptr<Kernel> make_qdepthwise_conv(KernelContext& ctx) {
  return make_conv(ctx, kQLinearInputs, ctx.node.domain == kInternalDomain,
                   ConvPaths::kVnniDepthwise);
}

}  // namespace quench::x86

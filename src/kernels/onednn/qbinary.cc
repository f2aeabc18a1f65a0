#include "kernels/onednn/qbinary.h"

#include <algorithm>

#include "ir/shape_util.h"

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"
#include "kernels/onednn/qlayout.h"
#include "kernels/ref/elementwise.h"
#include "kernels/x86/qloops.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

// Input positions: A, A_scale, A_zero_point, B, B_scale, B_zero_point, C_scale, C_zero_point.
constexpr size_t kA = 0, kB = 3;

struct ConvertState final : KernelState {
  dnnl::memory from, to;
};

// The constant parameters of one QLinearAdd / QLinearMul, in the form its loop takes.
struct BinaryParams {
  bool add = true;
  int32_t a_zero_point = 0, b_zero_point = 0, y_zero_point = 0;
  float a_ratio = 0.f, b_ratio = 0.f;  // add: s_a / s_y, s_b / s_y (eq. (38))
  float multiplier = 0.f;              // mul: (s_a · s_b) / s_y (eq. (36))

  // y = op(a, b) for `count` same-position pairs.
  template <class Q>
  void apply(const Q* a, const Q* b, Q* y, int64_t count) const {
    if (add) {
      x86::add_requantize_loop(a, b, y, count, a_zero_point, a_ratio, b_zero_point, b_ratio,
                               y_zero_point);
    } else {
      x86::mul_requantize_loop(a, b, y, count, a_zero_point, b_zero_point, multiplier,
                               y_zero_point);
    }
  }
};

template <class Q>
class QLinearBinaryKernel final : public Kernel {
 public:
  QLinearBinaryKernel(BinaryParams params, int64_t count, size_t kept, LayoutStep convert)
      : params_(params), count_(count), kept_(kept), convert_(std::move(convert)) {}

  void run(const KernelArgs& args) const override {
    const void* a = args.inputs[kA];
    const void* b = args.inputs[kB];
    if (convert_.active()) {
      auto* s = static_cast<ConvertState*>(args.state);
      const void*& converted = kept_ == kA ? b : a;
      convert_.run(converted, args.scratch, s->from, s->to);
      converted = args.scratch;
    }
    params_.apply(static_cast<const Q*>(a), static_cast<const Q*>(b),
                  static_cast<Q*>(args.outputs[0]), count_);
  }
  std::unique_ptr<KernelState> make_state() const override {
    if (!convert_.active()) return nullptr;
    auto s = std::make_unique<ConvertState>();
    convert_.make_memories(s->from, s->to);
    return s;
  }
  size_t scratch_bytes() const override {
    return convert_.active() ? static_cast<size_t>(count_) * sizeof(Q) : 0;
  }
  // Each output element depends only on the operand elements at its own position.
  int inplace_input() const override { return static_cast<int>(kept_); }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  BinaryParams params_;
  int64_t count_;
  size_t kept_;         // the operand read in its own layout, which the output shares
  LayoutStep convert_;  // the other operand into that layout, when it is stored otherwise
};

// Numpy broadcasting, plain layouts: the output walked in runs along which each operand either
// moves with the output or repeats one value (ref::elementwise::plan_broadcast). A repeated value
// is spread over a run in scratch so that every run goes through the same vector loop.
template <class Q>
class QLinearBroadcastKernel final : public Kernel {
 public:
  QLinearBroadcastKernel(BinaryParams params, ref::elementwise::BroadcastRuns plan, int inplace)
      : params_(params), plan_(std::move(plan)), inplace_(inplace) {}

  void run(const KernelArgs& args) const override {
    const Q* a = static_cast<const Q*>(args.inputs[kA]);
    const Q* b = static_cast<const Q*>(args.inputs[kB]);
    Q* y = static_cast<Q*>(args.outputs[0]);
    Q* spread = static_cast<Q*>(args.scratch);
    const int64_t n = plan_.run_length;
    const bool a_moves = plan_.run_step[0] != 0, b_moves = plan_.run_step[1] != 0;
    for (int64_t run = 0; run < plan_.runs; ++run) {
      const auto [a_offset, b_offset] = plan_.offsets<2>(run);
      const Q* a_run = a + a_offset;
      const Q* b_run = b + b_offset;
      if (!a_moves) a_run = std::fill_n(spread, n, *a_run) - n;
      if (!b_moves) b_run = std::fill_n(spread + n, n, *b_run) - n;
      params_.apply(a_run, b_run, y + run * n, n);
    }
  }
  size_t scratch_bytes() const override { return 2 * static_cast<size_t>(plan_.run_length); }
  int inplace_input() const override { return inplace_; }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  BinaryParams params_;
  ref::elementwise::BroadcastRuns plan_;
  int inplace_;  // the operand of the output's shape, whose elements are read where they are
                 // written
};

// One value per channel (and image) against a channels-last operand of the output's shape — a
// squeeze-excite scale — in the big operand's layout: each pixel's C channels are one run along
// which the channel operand moves with the output. The channel values are repeated over a tile of
// pixels in scratch, so that one call of the loop covers many pixels (with 16-64 channels a call
// per pixel cost more than its values: 0.8 cycles per value).
template <class Q>
class QLinearChannelKernel final : public Kernel {
 public:
  QLinearChannelKernel(BinaryParams params, size_t big, int64_t images, int64_t pixels,
                       int64_t channels, bool per_image)
      : params_(params),
        big_(big),
        images_(images),
        pixels_(pixels),
        channels_(channels),
        per_image_(per_image),
        tile_pixels_(
            std::max<int64_t>(1, std::min(pixels, (kTileValues + channels - 1) / channels))) {}

  void run(const KernelArgs& args) const override {
    const Q* big = static_cast<const Q*>(args.inputs[big_]);
    const Q* small = static_cast<const Q*>(args.inputs[big_ == kA ? kB : kA]);
    Q* y = static_cast<Q*>(args.outputs[0]);
    Q* tile = static_cast<Q*>(args.scratch);
    for (int64_t n = 0; n < images_; ++n) {
      if (n == 0 || per_image_) {
        const Q* c = small + (per_image_ ? n * channels_ : 0);
        for (int64_t p = 0; p < tile_pixels_; ++p) {
          std::copy(c, c + channels_, tile + p * channels_);
        }
      }
      for (int64_t p = 0; p < pixels_; p += tile_pixels_) {
        const int64_t at = (n * pixels_ + p) * channels_;
        const int64_t count = std::min(tile_pixels_, pixels_ - p) * channels_;
        if (big_ == kA) {
          params_.apply(big + at, tile, y + at, count);
        } else {
          params_.apply(tile, big + at, y + at, count);
        }
      }
    }
  }
  size_t scratch_bytes() const override {
    return static_cast<size_t>(tile_pixels_ * channels_) * sizeof(Q);
  }
  int inplace_input() const override { return static_cast<int>(big_); }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  static constexpr int64_t kTileValues = 2048;
  BinaryParams params_;
  size_t big_;  // the operand of the output's shape
  int64_t images_, pixels_, channels_;
  bool per_image_;       // the channel operand is [N, C, 1...], else [1, C, 1...]
  int64_t tile_pixels_;  // pixels per loop call
};

// Whether `v` is stored channels last ([N, spatial..., C]), as quench or oneDNN lays it out.
bool stored_channels_last(const TensorDesc& v) {
  if (is_channels_last(v.layout, v.shape)) return true;
  if (v.layout.plain() || v.shape.size() < 3 || !onednn_reads(v.layout)) return false;
  const dnnl::memory::desc wanted = channels_last_desc(v.dtype, v.shape);
  return desc_of(v.layout, plain_desc(v.dtype, v.shape)) == wanted;
}

// The channel-broadcast kernel when one operand is [N or 1, C, 1...] (plain) and the other has
// the output's shape and is stored channels last; nullptr otherwise.
std::unique_ptr<Kernel> channel_broadcast(KernelContext& ctx, const BinaryParams& p) {
  const TensorDesc& y = ctx.outputs.at(0);
  for (const size_t big : {kA, kB}) {
    const TensorDesc& b = ctx.input(big);
    const TensorDesc& c = ctx.input(big == kA ? kB : kA);
    if (b.shape != y.shape || c.shape.size() != y.shape.size() || !c.layout.plain() ||
        !stored_channels_last(b)) {
      continue;
    }
    const int64_t images = y.shape[0], channels = y.shape[1];
    bool per_channel = c.shape[1] == channels && (c.shape[0] == images || c.shape[0] == 1);
    for (size_t d = 2; d < c.shape.size(); ++d) per_channel = per_channel && c.shape[d] == 1;
    if (!per_channel || images == 0 || channels == 0) continue;
    const int64_t pixels = shape_numel(y.shape) / (images * channels);
    ctx.outputs[0].layout = b.layout;
    const bool per_image = c.shape[0] == images && images > 1;
    return visit_quant_type(y.dtype, [&](auto q) -> std::unique_ptr<Kernel> {
      using Q = typename decltype(q)::type;
      return std::make_unique<QLinearChannelKernel<Q>>(p, big, images, pixels, channels, per_image);
    });
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<Kernel> make_qlinear_binary(KernelContext& ctx) {
  const TensorDesc& a = ctx.input(kA);
  const TensorDesc& b = ctx.input(kB);
  const TensorDesc& y = ctx.outputs.at(0);
  const DType type = a.dtype;
  if (!is_quant_type(type) || b.dtype != type || y.dtype != type) return nullptr;
  if (!x86::rounds_half_even()) return nullptr;
  const QuantParamSource a_params = tensor_params(ctx, 1, 2, type, "A");
  const QuantParamSource b_params = tensor_params(ctx, 4, 5, type, "B");
  const QuantParamSource y_params = tensor_params(ctx, 6, 7, type, "C");
  if (!a_params.known() || !b_params.known() || !y_params.known()) return nullptr;

  BinaryParams p;
  p.add = ctx.node.op_type == "QLinearAdd";
  const KernelArgs none{};
  const float a_scale = a_params.scale(none, 0), b_scale = b_params.scale(none, 0);
  const float y_scale = y_params.scale(none, 0);
  p.a_zero_point = a_params.zero_point(none, 0);
  p.b_zero_point = b_params.zero_point(none, 0);
  p.y_zero_point = y_params.zero_point(none, 0);
  p.a_ratio = a_scale / y_scale;
  p.b_ratio = b_scale / y_scale;
  p.multiplier = requant_multiplier(a_scale, b_scale, y_scale);

  if (a.shape != b.shape) {
    const std::optional<Shape> out = broadcast_shapes(a.shape, b.shape);
    if (!out || *out != y.shape) return nullptr;
    if (auto k = channel_broadcast(ctx, p)) return k;
    if (!a.layout.plain() || !b.layout.plain()) return nullptr;
    const int inplace = a.shape == y.shape ? kA : b.shape == y.shape ? kB : -1;
    auto plan = ref::elementwise::plan_broadcast({a.shape, b.shape}, y.shape);
    return visit_quant_type(type, [&](auto q) -> std::unique_ptr<Kernel> {
      using Q = typename decltype(q)::type;
      return std::make_unique<QLinearBroadcastKernel<Q>>(p, std::move(plan), inplace);
    });
  }
  if (a.shape != y.shape) return nullptr;
  // Keep A's layout if a flat loop can read it, else B's; convert the other operand if needed.
  size_t kept = kA;
  if (!dense_layout(a)) {
    if (!dense_layout(b)) return nullptr;  // both padded: the runtime offers plain inputs
    kept = kB;
  }
  const TensorDesc& kept_value = ctx.input(kept);
  const TensorDesc& other = ctx.input(kept == kA ? kB : kA);
  LayoutStep convert;
  if (!same_layout(kept_value.layout, other.layout)) {
    const dnnl::memory::desc plain = plain_desc(type, a.shape);
    convert = LayoutStep(desc_of(other.layout, plain), desc_of(kept_value.layout, plain));
  }
  ctx.outputs[0].layout = kept_value.layout;
  return visit_quant_type(type, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QLinearBinaryKernel<Q>>(p, a.numel(), kept, std::move(convert));
  });
}

}  // namespace quench::onednn

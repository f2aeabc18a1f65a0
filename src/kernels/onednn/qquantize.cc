#include "kernels/onednn/qquantize.h"

#include <optional>

#include "ir/shape_util.h"
#include "kernels/x86/qloops.h"
#include "ops/quantized/integer_products.h"

namespace quench::onednn {
namespace {

// Input positions of QuantizeLinear (x, y_scale, y_zero_point) and DequantizeLinear (x, x_scale,
// x_zero_point).
constexpr size_t kData = 0, kScale = 1, kZeroPoint = 2;

// The data as [outer, channels, inner] runs with one (scale, zero point) per channel; channels =
// 1 per tensor.
struct ChannelRuns {
  int64_t outer = 1, channels = 1, inner = 1;
  std::vector<float> scales;
  std::vector<int32_t> zero_points;
};

// The runs of a Q/DQ node with constant parameters, or nullopt when they are not constant or not
// what the reference accepts (it reports the error).
std::optional<ChannelRuns> channel_runs(const KernelContext& ctx, DType quant_type) {
  const QuantParamSource params(ctx, kScale, kZeroPoint, quant_type);
  if (!params.known()) return std::nullopt;
  const Shape& data = ctx.input(kData).shape;
  ChannelRuns runs;
  runs.inner = shape_numel(data);
  if (params.size() > 1) {
    // Per axis (opset 13): a 1-D scale with one value per index along `axis`.
    if (ctx.opset < 13 || ctx.input(kScale).rank() != 1) return std::nullopt;
    const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 1), data.size(), ctx.node);
    if (data[axis] != params.size()) return std::nullopt;
    runs.outer = shape_numel(std::span(data).first(axis));
    runs.channels = data[axis];
    runs.inner = shape_numel(std::span(data).subspan(axis + 1));
  }
  const KernelArgs none{};
  for (int64_t channel = 0; channel < runs.channels; ++channel) {
    runs.scales.push_back(params.scale(none, channel));
    runs.zero_points.push_back(params.zero_point(none, channel));
  }
  return runs;
}

template <class In, class Out>
class QdqKernel final : public Kernel {
 public:
  explicit QdqKernel(ChannelRuns runs) : runs_(std::move(runs)) {}

  void run(const KernelArgs& a) const override {
    const In* x = static_cast<const In*>(a.inputs[kData]);
    Out* y = static_cast<Out*>(a.outputs[0]);
    for (int64_t outer = 0; outer < runs_.outer; ++outer) {
      for (int64_t channel = 0; channel < runs_.channels; ++channel) {
        const float scale = runs_.scales[channel];
        const int32_t zero_point = runs_.zero_points[channel];
        if constexpr (std::is_same_v<In, float>) {
          x86::quantize_loop(x, y, runs_.inner, scale, zero_point);
        } else {
          x86::dequantize_loop(x, y, runs_.inner, scale, zero_point);
        }
        x += runs_.inner;
        y += runs_.inner;
      }
    }
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  ChannelRuns runs_;
};

// y = quantize(x) with eq. (37)'s parameters of the whole tensor; the scale and zero point are
// written to outputs 1 and 2 when the node has them.
class DynamicQuantizeKernel final : public Kernel {
 public:
  DynamicQuantizeKernel(int64_t count, bool write_scale, bool write_zero_point)
      : count_(count), write_scale_(write_scale), write_zero_point_(write_zero_point) {}

  void run(const KernelArgs& a) const override {
    const float* x = static_cast<const float*>(a.inputs[0]);
    float min = 0.f, max = 0.f;
    x86::range_with_zero(x, count_, min, max);
    const DynamicQuantParams p = dynamic_quant_params(min, max);
    x86::quantize_loop(x, static_cast<uint8_t*>(a.outputs[0]), count_, p.scale, p.zero_point);
    if (write_scale_) *static_cast<float*>(a.outputs[1]) = p.scale;
    if (write_zero_point_) *static_cast<uint8_t*>(a.outputs[2]) = p.zero_point;
  }
  std::string impl() const override { return "onednn:int8_loop"; }

 private:
  int64_t count_;
  bool write_scale_, write_zero_point_;
};

}  // namespace

std::unique_ptr<Kernel> make_quantize_linear(KernelContext& ctx) {
  const DType y = ctx.outputs.at(0).dtype;
  if (ctx.input(kData).dtype != DType::kFloat32 || !is_quant_type(y)) return nullptr;
  if (!x86::rounds_half_even()) return nullptr;
  std::optional<ChannelRuns> runs = channel_runs(ctx, y);
  if (!runs) return nullptr;
  return visit_quant_type(y, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QdqKernel<float, Q>>(std::move(*runs));
  });
}

std::unique_ptr<Kernel> make_dequantize_linear(KernelContext& ctx) {
  const DType x = ctx.input(kData).dtype;
  if (!is_quant_type(x) || ctx.outputs.at(0).dtype != DType::kFloat32) return nullptr;
  std::optional<ChannelRuns> runs = channel_runs(ctx, x);
  if (!runs) return nullptr;
  return visit_quant_type(x, [&](auto q) -> std::unique_ptr<Kernel> {
    using Q = typename decltype(q)::type;
    return std::make_unique<QdqKernel<Q, float>>(std::move(*runs));
  });
}

std::unique_ptr<Kernel> make_dynamic_quantize_linear(KernelContext& ctx) {
  if (ctx.input(kData).dtype != DType::kFloat32 || ctx.outputs.at(0).dtype != DType::kUInt8) {
    return nullptr;
  }
  if (!x86::rounds_half_even()) return nullptr;
  auto has_output = [&](size_t i) { return i < ctx.outputs.size() && ctx.outputs[i].present(); };
  return std::make_unique<DynamicQuantizeKernel>(ctx.input(kData).numel(), has_output(1),
                                                 has_output(2));
}

}  // namespace quench::onednn

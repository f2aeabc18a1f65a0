#include "quant/qparams.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/requantize.h"

namespace quench::quant {
namespace {

// Smallest scale quench writes: below it, 1/scale overflows float for realistic values.
constexpr float kMinScale = 1e-12f;

}  // namespace

IntRange quantizer_range(DType type) {
  return type == DType::kUInt8 ? IntRange{0, 255} : IntRange{-127, 127};
}

QuantParams activation_params(float min, float max, DType type) {
  QUENCH_CHECK(type == DType::kUInt8 || type == DType::kInt8, ErrorKind::kInvalidArgument,
               "activations are quantized to uint8 or int8, not {}", dtype_name(type));
  QUENCH_CHECK(std::isfinite(min) && std::isfinite(max) && min <= max, ErrorKind::kInternal,
               "invalid calibrated range [{}, {}]", min, max);
  const float lo = std::min(min, 0.f), hi = std::max(max, 0.f);  // eq. (20)
  if (type == DType::kUInt8) {
    if (hi - lo <= 0.f) return QuantParams::per_tensor(type, 1.f, 0);  // eq. (24): all zeros
    const float scale = std::max((hi - lo) / 255.f, kMinScale);        // eq. (21)
    const auto zero_point =
        static_cast<int32_t>(std::clamp(round_half_even(-lo / scale), 0.f, 255.f));  // eq. (22)
    return QuantParams::per_tensor(type, scale, zero_point);
  }
  const float amax = std::max(-lo, hi);
  if (amax <= 0.f) return QuantParams::per_tensor(type, 1.f, 0);
  return QuantParams::per_tensor(type, std::max(amax / 127.f, kMinScale), 0);  // eq. (23)
}

int32_t weight_qmax(int bits) {
  QUENCH_CHECK(bits >= 2 && bits <= 8, ErrorKind::kInvalidArgument,
               "weights are quantized to 2 to 8 bits, not {}", bits);
  return (1 << (bits - 1)) - 1;
}

WeightQuant quantize_weights(const Tensor& weights, int64_t axis, bool per_channel, int bits) {
  const auto qmax = static_cast<float>(weight_qmax(bits));
  QUENCH_CHECK(weights.dtype() == DType::kFloat32, ErrorKind::kUnsupported,
               "weights of type {} cannot be quantized", dtype_name(weights.dtype()));
  WeightQuant w;
  w.axis = axis;
  w.quantized = Tensor::empty(DType::kInt8, weights.shape());
  const int64_t channels = per_channel ? weights.dim(static_cast<int>(axis)) : 1;
  // View as [outer, channels, inner] around `axis`.
  int64_t inner = 1;
  for (int d = static_cast<int>(axis) + 1; d < weights.rank(); ++d) inner *= weights.dim(d);
  const int64_t outer = per_channel ? weights.numel() / (channels * inner) : 1;
  const int64_t span = per_channel ? inner : weights.numel();
  const float* src = weights.data<float>();
  int8_t* dst = w.quantized.data<int8_t>();
  std::vector<float> amax(static_cast<size_t>(channels), 0.f);
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const float* p = src + (o * channels + c) * span;
      for (int64_t i = 0; i < span; ++i) {
        QUENCH_CHECK(std::isfinite(p[i]), ErrorKind::kInvalidArgument,
                     "weights hold a non-finite value (NaN or infinity)");
        amax[c] = std::max(amax[c], std::abs(p[i]));
      }
    }
  }
  for (float a : amax) w.scales.push_back(a > 0.f ? std::max(a / qmax, kMinScale) : 1.f);  // (25)
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t base = (o * channels + c) * span;
      for (int64_t i = 0; i < span; ++i) {
        // Eq. (4) with the symmetric bounds [-qmax, qmax]: |x| <= qmax·s, so only a rounding of
        // x / s just beyond ±qmax could leave them.
        const auto q = static_cast<float>(quantize<int8_t>(src[base + i], w.scales[c], 0));
        dst[base + i] = static_cast<int8_t>(std::clamp(q, -qmax, qmax));
      }
    }
  }
  return w;
}

Tensor quantize_bias(const Tensor& bias, float input_scale, const std::vector<float>& w_scales,
                     std::vector<float>* bias_scales) {
  const int64_t n = bias.numel();
  Tensor q = Tensor::empty(DType::kInt32, bias.shape());
  bias_scales->clear();
  const float* b = bias.data<float>();
  for (int64_t c = 0; c < n; ++c) {
    const float s = input_scale * w_scales[w_scales.size() == 1 ? 0 : c];  // eq. (26)
    bias_scales->push_back(s);
    const double v = round_half_even(static_cast<double>(b[c]) / s);
    q.data<int32_t>()[c] = static_cast<int32_t>(std::clamp(v, -2147483647.0, 2147483647.0));
  }
  return q;
}

}  // namespace quench::quant

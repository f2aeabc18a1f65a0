// Data-free bias correction (Nagel et al., "Data-Free Quantization", 2019): the expected input of
// each layer a BatchNormalization feeds comes from that normalization's β and γ (eqs. (140)-(141)),
// and the layer's bias absorbs its weights' rounding error times that expectation (eqs. (142),
// (143)).
#include <fmt/format.h>

#include <chrono>

#include "core/check.h"
#include "quant/lowbit/batch_norm_means.h"
#include "quant/lowbit/bias_correction.h"
#include "quant/lowbit/layer_graph.h"
#include "quant/lowbit/layer_matrix.h"
#include "quant/qparams.h"
#include "quant/quant_plan.h"
#include "quench/lowbit.h"
#include "quench/passes.h"

namespace quench {
namespace {

using namespace quant;
using namespace quant::lowbit;

// E[x] for each column of the layer's X (layer_matrix.h) from its input's channel means, or
// empty when the channels do not line up (a MatMul reads the last dim, a BatchNormalization
// normalizes dim 1: only rank-2 inputs agree).
std::vector<double> column_means(const LayerView& v, const std::vector<double>& channel,
                                 const ValueInfo* input) {
  const auto channels = static_cast<int64_t>(channel.size());
  if (v.conv) {
    if (v.in_channels != channels) return {};
    // Eq. (143): a tap reads the channel where it lands inside the input, zero padding elsewhere.
    std::vector<double> inside[2];
    for (int d = 0; d < 2; ++d) {
      for (int64_t t = 0; t < v.window.kernel[d]; ++t) {
        int64_t count = 0;
        for (int64_t o = 0; o < v.out_size[d]; ++o) {
          const int64_t at =
              o * v.window.strides[d] - v.window.pads_begin[d] + t * v.window.dilations[d];
          count += at >= 0 && at < v.in_size[d];
        }
        inside[d].push_back(static_cast<double>(count) / static_cast<double>(v.out_size[d]));
      }
    }
    const int64_t kw = v.window.kernel[1], taps = v.window.kernel[0] * kw;
    std::vector<double> m(channels * taps);
    for (size_t j = 0; j < m.size(); ++j) {
      const int64_t tap = static_cast<int64_t>(j) % taps;
      m[j] = channel[j / taps] * inside[0][tap / kw] * inside[1][tap % kw];
    }
    return m;
  }
  if (input == nullptr || !input->shape || input->shape->size() != 2 ||
      v.shape.x_cols() != channels) {
    return {};
  }
  return channel;
}

// The rounded weights as W is laid out (layer_matrix.h): row-major, one row per output.
std::vector<int8_t> rounded_matrix(const WeightQuant& wq, const WeightInput& wi) {
  Tensor as_float = Tensor::empty(DType::kFloat32, wq.quantized.shape());
  const int8_t* q = wq.quantized.data<int8_t>();
  for (int64_t i = 0; i < as_float.numel(); ++i) as_float.data<float>()[i] = q[i];
  const std::vector<float> m = weight_matrix(as_float, wi);
  return std::vector<int8_t>(m.begin(), m.end());
}

}  // namespace

Model quantize_bias_corrected_analytic(const Model& fp32, const Model& prepared,
                                       const CalibrationTable& table, const QuantRecipe& recipe,
                                       QuantizeReport* report, WeightRoundingReport* rounding) {
  const auto start = std::chrono::steady_clock::now();
  WeightRoundingReport local_rounding;
  WeightRoundingReport& rr = rounding ? *rounding : local_rounding;
  rr = WeightRoundingReport{};
  Model folded = fp32;  // constants folded, so that each normalization's β and γ are initializers
  infer_shapes(folded.graph, InferOptions{true});
  fold_constants(folded.graph);
  const ChannelMeans means = batch_norm_channel_means(folded.graph);
  QUENCH_CHECK(!means.empty(), ErrorKind::kInvalidArgument,
               "--bias-correction without calibration data corrects the layers a "
               "BatchNormalization feeds (from its scale and bias), and this model has no "
               "BatchNormalization (an export in eval mode folds them into the convolutions); "
               "give --calib DATA for the empirical correction");
  Model work = prepared;
  add_zero_biases(work.graph);
  const QuantPlan plan = plan_quantization(work.graph, recipe);
  for (const NodeQuant& nq : plan.nodes) {
    if (nq.weights.empty()) continue;
    const Node& node = work.graph.nodes[nq.node];
    const WeightInput& wi = nq.weights[0];
    auto it = means.find(node.input(0));
    if (wi.input == 0 || it == means.end()) {
      rr.notes.push_back(
          fmt::format("{}: its input does not come from a BatchNormalization; bias not corrected",
                      node.describe()));
      continue;
    }
    const LayerView view = describe_layer(work.graph, node, wi);
    const std::vector<double> m =
        view.unsupported.empty() ? column_means(view, it->second, work.graph.info(node.input(0)))
                                 : std::vector<double>{};
    const std::string bname = bias_of(work.graph, node);
    if (m.empty() || bname.empty()) {
      rr.notes.push_back(
          fmt::format("{}: {}; bias not corrected", node.describe(),
                      !view.unsupported.empty() ? view.unsupported
                      : m.empty() ? "the normalized channels are not the layer's input channels"
                                  : "no bias input"));
      continue;
    }
    const Tensor& weight = *work.graph.initializer(node.input(wi.input));
    const WeightQuant wq = quantize_weights(weight, wi.axis, recipe.per_channel, wi.bits);
    const Tensor& b = *work.graph.initializer(bname);
    std::vector<float> bias(b.data<float>(), b.data<float>() + b.numel());
    correct_bias(view.shape, weight_matrix(weight, wi), rounded_matrix(wq, wi), wq.scales, m, m,
                 bias);  // eq. (142)
    work.graph.initializers[bname] =
        Tensor::from_vector<float>({static_cast<int64_t>(bias.size())}, bias);
    ++rr.layers;
  }
  Model m = quantize_static(work, table, recipe, report);
  for (auto& [key, value] : m.metadata) {
    if (key == "quench.quantization") {
      value += fmt::format(", biases of {} layer(s) corrected from BatchNormalization statistics",
                           rr.layers);
    }
  }
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

}  // namespace quench

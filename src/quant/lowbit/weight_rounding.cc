// The weight-rounding driver: layer by layer in graph order, the layer's inputs are collected
// from the model whose earlier layers are already quantized, an algorithm (GPTQ, AdaRound, or
// rounding to nearest) chooses its integer weights, bias correction adjusts its bias, and the
// result feeds the next layers' inputs and, at the end, the QDQ writer.
#include <chrono>
#include <cmath>
#include <map>
#include <optional>

#include "core/check.h"
#include "core/progress.h"
#include "core/requantize.h"
#include "quant/lowbit/adaround.h"
#include "quant/lowbit/bias_correction.h"
#include "quant/lowbit/gptq.h"
#include "quant/lowbit/layer_graph.h"
#include "quant/lowbit/layer_samples.h"
#include "quant/lowbit/rounded_layers.h"
#include "quant/lowbit/rounded_source.h"
#include "quench/evaluate.h"
#include "quench/lowbit.h"

namespace quench {
namespace {

using namespace quant;
using namespace quant::lowbit;

Feeds load_feeds(const Session& session, const Dataset& data, int64_t count, int64_t batch) {
  const DataBinding binding(session, data, "the calibration data");
  Feeds feeds;
  const int64_t n = std::min(count, data.size());
  for (int64_t first = 0; first < n; first += batch) {
    feeds.push_back(binding.feeds(data.batch(first, std::min(batch, n - first))));
  }
  return feeds;
}

int node_with_output(const Graph& g, const std::string& output) {
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    if (!g.nodes[i].outputs.empty() && g.nodes[i].outputs[0] == output) return static_cast<int>(i);
  }
  return -1;
}

std::vector<int8_t> round_to_nearest(const std::vector<float>& w, int64_t cols,
                                     const std::vector<float>& scales, int32_t qmax) {
  std::vector<int8_t> q(w.size());
  const auto lim = static_cast<float>(qmax);
  for (size_t i = 0; i < w.size(); ++i) {
    const float s = scales[scales.size() == 1 ? 0 : static_cast<int64_t>(i) / cols];
    q[i] = static_cast<int8_t>(std::clamp(round_half_even(w[i] / s), -lim, lim));  // eq. (25)
  }
  return q;
}

}  // namespace

std::string WeightRoundingOptions::method() const {
  std::string m = gptq       ? (gptq_float_target ? "GPTQ (float target)" : "GPTQ")
                  : adaround ? "AdaRound"
                             : "rounding to nearest";
  if (bias_correction) m += " + bias correction";
  return m;
}

RoundedLayers quant::lowbit::choose_rounded(const Model& prepared, const CalibrationTable& table,
                                            const QuantRecipe& recipe, const Dataset& data,
                                            const WeightRoundingOptions& o,
                                            WeightRoundingReport& rr) {
  QUENCH_CHECK(!(o.gptq && o.adaround), ErrorKind::kInvalidArgument,
               "GPTQ and AdaRound both choose the integer weights; ask for one of them");
  QUENCH_CHECK(o.gptq || o.adaround || o.bias_correction, ErrorKind::kInvalidArgument,
               "no weight-rounding algorithm asked for (GPTQ, AdaRound or bias correction)");
  QUENCH_CHECK(data.size() > 0 && o.calib_size > 0, ErrorKind::kInvalidArgument,
               "GPTQ, AdaRound and bias correction need calibration data (got none)");
  const auto start = std::chrono::steady_clock::now();
  rr = WeightRoundingReport{};
  RoundedLayers chosen;
  Model& work = chosen.work;
  work = prepared;
  if (o.bias_correction) add_zero_biases(work.graph);
  const QuantPlan plan = plan_quantization(work.graph, recipe);
  const CalibratedSource calibrated(table, recipe);
  RoundedSource source(calibrated, true);  // `work`'s weights stay as they are
  SessionOptions so;
  so.threads = o.threads;
  const Model float_model = work;  // biases as they were
  const Feeds feeds = load_feeds(Session(float_model, so), data, o.calib_size, o.batch);
  // Bias correction's float means E[x_fp] (eq. (81)) do not depend on the layers rounded before:
  // without AdaRound (whose float rows pair with the quantized ones) they come from one run of the
  // float model per batch for every layer. By layer: layers that read one value (a residual
  // block's 1x1 shortcut and its 3x3 convolution) see it through different windows.
  std::map<std::string, std::vector<double>> float_means;  // by layer (node name)
  if (o.bias_correction && !o.adaround) {
    std::vector<LayerView> views;
    std::vector<std::string> values, layers;
    for (const NodeQuant& nq : plan.nodes) {
      if (nq.weights.empty()) continue;
      const Node& node = work.graph.nodes[nq.node];
      const LayerView view = describe_layer(work.graph, node, nq.weights[0]);
      if (!view.unsupported.empty()) continue;
      views.push_back(view);
      values.push_back(node.input(0));
      layers.push_back(node.name);
    }
    std::vector<std::vector<double>> means = mean_rows(float_model, so, views, values, feeds);
    for (size_t l = 0; l < layers.size(); ++l) float_means[layers[l]] = std::move(means[l]);
  }
  Progress progress("rounding weights (" + o.method() + ")",
                    static_cast<int64_t>(plan.nodes.size()), o.progress);
  for (size_t l = 0; l < plan.nodes.size(); ++l) {
    progress.update(static_cast<int64_t>(l));
    const NodeQuant& nq = plan.nodes[l];
    if (nq.weights.empty()) continue;
    const Node node = work.graph.nodes[nq.node];
    const WeightInput& wi = nq.weights[0];
    const std::string& wname = node.input(wi.input);
    if (source.has(wname)) continue;
    const LayerView view = describe_layer(work.graph, node, wi);
    if (!view.unsupported.empty()) {
      rr.notes.push_back(
          fmt::format("{}: rounded to nearest ({})", node.describe(), view.unsupported));
      continue;
    }
    QuantizeReport scratch;
    Model qm = write_qdq(work, plan, source, recipe, scratch);
    const int qi = node_with_output(qm.graph, node.outputs[0]);
    QUENCH_CHECK(qi >= 0, ErrorKind::kInternal, "{} is missing from the quantized model",
                 node.describe());
    // The layer's input as the graph's output, so that the model runs on its fast kernels and
    // stops there.
    qm.graph.outputs = {qm.graph.nodes[qi].input(0)};
    const Session qs(qm, so);
    SampleRequest request;
    request.max_rows = o.gptq || o.adaround ? o.max_rows : 0;  // bias correction: means only
    request.float_rows = o.adaround || (o.gptq && o.gptq_float_target);
    request.means = o.bias_correction;
    request.seed = l;
    std::optional<Session> fs;
    if (request.float_rows) {
      Model fm = float_model;
      fm.graph.outputs = {node.input(0)};
      fs.emplace(fm, so);
    }
    LayerSamples ls = collect_samples(view, qs, qm.graph.nodes[qi].input(0), fs ? &*fs : nullptr,
                                      node.input(0), feeds, request);
    if (o.bias_correction && !o.adaround) ls.mean_fp = float_means.at(node.name);
    const Tensor& weight = *work.graph.initializer(wname);
    const int32_t qmax = weight_qmax(wi.bits);
    const std::vector<float> scales =
        quantize_weights(weight, wi.axis, recipe.per_channel, wi.bits).scales;
    const std::vector<float> w = weight_matrix(weight, wi);
    const std::string bname = bias_of(work.graph, node);
    std::vector<float> bias;
    if (!bname.empty()) {
      const Tensor& b = *work.graph.initializer(bname);
      bias.assign(b.data<float>(), b.data<float>() + b.numel());
    }
    std::vector<int8_t> q;
    if (o.gptq) {
      GptqOptions go;
      go.damp = o.gptq_damp;
      q = gptq(view.shape, w, ls.x.data(), ls.m, scales, qmax, go,
               o.gptq_float_target ? ls.x_fp.data() : nullptr);
    } else if (o.adaround) {
      AdaRoundOptions ao;
      ao.iters = o.adaround_iters;
      ao.seed = l;
      fused_activation(work.graph, nq.node, ao);
      q = adaround(view.shape, w, bias, ls.x.data(), ls.x_fp.data(), ls.m,
                   WeightGrid::per_row(view.shape, scales, qmax), ao);
    } else {
      q = round_to_nearest(w, view.shape.cols, scales, qmax);
    }
    if (o.bias_correction) {
      if (bname.empty()) {
        rr.notes.push_back(fmt::format("{}: no bias to correct", node.describe()));
      } else {
        correct_bias(view.shape, w, q, scales, ls.mean_fp, ls.mean, bias);
        work.graph.initializers[bname] =
            Tensor::from_vector<float>({static_cast<int64_t>(bias.size())}, bias);
      }
    }
    source.set(wname, WeightQuant{weight_from_matrix(q, weight, wi), scales, wi.axis});
    chosen.layers.push_back({node.name, wname, bname});
    ++rr.layers;
  }
  progress.update(static_cast<int64_t>(plan.nodes.size()));
  progress.finish();
  chosen.weights = source.weights();
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return chosen;
}

Model quantize_rounded(const Model& prepared, const CalibrationTable& table,
                       const QuantRecipe& recipe, const Dataset& data,
                       const WeightRoundingOptions& o, QuantizeReport* report,
                       WeightRoundingReport* rounding) {
  const auto start = std::chrono::steady_clock::now();
  WeightRoundingReport local_rounding;
  WeightRoundingReport& rr = rounding ? *rounding : local_rounding;
  const RoundedLayers chosen = choose_rounded(prepared, table, recipe, data, o, rr);
  const CalibratedSource calibrated(table, recipe);
  RoundedSource source(calibrated);
  for (const auto& [name, w] : chosen.weights) source.set(name, w);
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  Model m = write_qdq(chosen.work, plan_quantization(chosen.work.graph, recipe), source, recipe, r);
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.metadata.emplace_back(
      "quench.quantization",
      fmt::format("static, {} activations, {} {} weights chosen by {}, {} calibration ({} "
                  "samples)",
                  recipe.weight_only ? std::string("float")
                                     : std::string(dtype_name(recipe.activation_type)),
                  quant::describe_weight_bits(recipe),
                  recipe.per_channel ? "per-channel" : "per-tensor", o.method(),
                  calibration_method_name(table.config.method), table.samples));
  return m;
}

}  // namespace quench

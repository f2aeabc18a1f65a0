// --cle: cross-layer equalization of the prepared model, Clip bounds made per channel where the
// rescaling needs it, and high-bias absorption from the calibration data.
#include <algorithm>
#include <limits>

#include "core/check.h"
#include "core/progress.h"
#include "quant/lowbit/cle.h"
#include "quant/lowbit/layer_graph.h"
#include "quench/evaluate.h"
#include "quench/lowbit.h"
#include "quench/passes.h"
#include "quench/session.h"

namespace quench {
namespace {

using quant::lowbit::ConvPair;

// Per-channel minimum over the calibration data of each pair's conv1 output (pre-activation).
std::vector<std::vector<float>> channel_minima(const Graph& g, const std::vector<ConvPair>& pairs,
                                               const Dataset& data, const CalibrateOptions& o) {
  std::map<std::string, size_t> wanted;
  std::vector<std::vector<float>> minima(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    wanted[g.nodes[pairs[k].conv1].outputs[0]] = k;
    minima[k].assign(g.initializer(g.nodes[pairs[k].conv1].input(1))->dim(0),
                     std::numeric_limits<float>::infinity());
  }
  Model m;
  m.graph = g;
  SessionOptions so;
  so.threads = o.threads;
  const Session session(m, so);
  const DataBinding binding(session, data, "the calibration data");
  RunOptions ro;
  ro.on_tensor = [&](const std::string& value, const Tensor& t) {
    auto it = wanted.find(value);
    if (it == wanted.end()) return;
    std::vector<float>& mins = minima[it->second];
    const int64_t c = t.dim(1), inner = t.numel() / (t.dim(0) * c);
    const float* x = t.data<float>();
    for (int64_t n = 0; n < t.dim(0); ++n) {
      for (int64_t ch = 0; ch < c; ++ch) {
        const float* p = x + (n * c + ch) * inner;
        mins[ch] = std::min(mins[ch], *std::min_element(p, p + inner));
      }
    }
  };
  const int64_t n = std::min(o.calib_size, data.size());
  Progress progress("high-bias absorption", n, o.progress);
  for (int64_t first = 0; first < n; first += o.batch) {
    const int64_t count = std::min(o.batch, n - first);
    session.run(binding.feeds(data.batch(first, count)), ro);
    progress.update(first + count);
  }
  progress.finish();
  return minima;
}

bool no_padding(const Node& conv) {
  const auto pads = conv.attr_ints("pads");
  const std::string& auto_pad = conv.attr_string("auto_pad", "NOTSET");
  return std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; }) &&
         (auto_pad == "NOTSET" || auto_pad == "VALID");
}

}  // namespace

Model equalize_cross_layer(const Model& prepared, const Dataset* data,
                           const CalibrateOptions& calib, EqualizationReport* report) {
  EqualizationReport local;
  EqualizationReport& r = report ? *report : local;
  r = EqualizationReport{};
  Model m = prepared;
  Graph& g = m.graph;
  if (data != nullptr) quant::lowbit::add_zero_biases(g);
  const std::vector<ConvPair> pairs = quant::lowbit::equalizable_pairs(g);
  r.pairs = static_cast<int64_t>(pairs.size());
  if (pairs.empty()) {
    r.notes.push_back(
        "no Conv → (Relu | Clip(0, hi) | nothing) → Conv pair to equalize; the model is "
        "unchanged");
    return m;
  }
  std::vector<std::vector<float>> scales;
  r.sweeps = quant::lowbit::equalize_pairs(g, pairs, scales);
  // Per-channel upper bounds of each pair's Clip after the rescaling: hi / S_c (eq. (85)).
  std::vector<std::vector<float>> bounds(pairs.size());
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (pairs[k].act < 0 || g.nodes[pairs[k].act].op_type != "Clip") continue;
    const Node& clip = g.nodes[pairs[k].act];
    const Tensor* hi = clip.has_input(2) ? g.initializer(clip.input(2)) : nullptr;
    const float upper =
        hi ? static_cast<float>(hi->to_double_vector()[0]) : std::numeric_limits<float>::infinity();
    for (float s : scales[k]) bounds[k].push_back(upper / s);
  }
  if (data != nullptr) {
    const auto minima = channel_minima(g, pairs, *data, calib);
    for (size_t k = 0; k < pairs.size(); ++k) {
      const Node& c2 = g.nodes[pairs[k].conv2];
      if (pairs[k].act < 0 || !no_padding(c2) || !g.nodes[pairs[k].conv1].has_input(2) ||
          !c2.has_input(2)) {
        continue;
      }
      // Eq. (86): c = max(0, min y1) per channel moves from conv1's bias into conv2's.
      Tensor b1 = g.initializers.at(g.nodes[pairs[k].conv1].input(2)).clone();
      Tensor b2 = g.initializers.at(c2.input(2)).clone();
      const Tensor& w2 = *g.initializer(c2.input(1));
      const int64_t in_g = w2.dim(1), taps = w2.dim(2) * w2.dim(3);
      const int64_t channels = b1.numel(), out_g = w2.dim(0) / (channels / in_g);
      for (int64_t c = 0; c < channels; ++c) {
        float shift = std::max(0.f, minima[k][c]);
        if (!bounds[k].empty()) shift = std::min(shift, bounds[k][c]);
        if (!(shift > 0.f)) continue;
        b1.data<float>()[c] -= shift;
        if (!bounds[k].empty()) bounds[k][c] -= shift;
        const int64_t grp = c / in_g, local = c % in_g;
        for (int64_t o = grp * out_g; o < (grp + 1) * out_g; ++o) {
          double sum = 0.0;
          for (int64_t t = 0; t < taps; ++t) sum += w2.data<float>()[(o * in_g + local) * taps + t];
          b2.data<float>()[o] += static_cast<float>(sum * shift);
        }
      }
      g.initializers[g.nodes[pairs[k].conv1].input(2)] = std::move(b1);
      g.initializers[c2.input(2)] = std::move(b2);
      ++r.absorbed_pairs;
    }
  } else {
    r.notes.push_back("no calibration data: high-bias absorption skipped");
  }
  // Clip(0, hi) → Relu, then Min with the per-channel bounds (eq. (85)).
  std::vector<Node> added;
  for (size_t k = 0; k < pairs.size(); ++k) {
    if (bounds[k].empty()) continue;
    Node& clip = g.nodes[pairs[k].act];
    const std::string out = clip.outputs[0];
    const std::string relu_out = g.unique_name(out + "_relu");
    const auto channels = static_cast<int64_t>(bounds[k].size());
    const std::string bound = g.unique_name(out + "_channel_bound");
    g.initializers[bound] = Tensor::from_vector<float>({channels, 1, 1}, bounds[k]);
    g.values[bound] = ValueInfo{DType::kFloat32, symbolic(Shape{channels, 1, 1}), ""};
    g.values[relu_out] = g.values[out];
    Node relu;
    relu.op_type = "Relu";
    relu.name = clip.name;
    relu.inputs = {clip.input(0)};
    relu.outputs = {relu_out};
    Node min;
    min.op_type = "Min";
    min.name = clip.name + "_channel_bound";
    min.inputs = {relu_out, bound};
    min.outputs = {out};
    clip = relu;
    added.push_back(min);
    ++r.clips_split;
  }
  g.nodes.insert(g.nodes.end(), added.begin(), added.end());
  topological_sort(g);
  infer_shapes(g);
  return m;
}

}  // namespace quench

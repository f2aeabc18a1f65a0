#include "quant/lowbit/layer_samples.h"

#include <algorithm>
#include <optional>
#include <random>
#include <set>

#include "core/check.h"

namespace quench::quant::lowbit {
namespace {

// The value `name` of one run of `session` on `feeds` (a graph input or any computed value). A
// value that is a graph output comes from a plain run, on the fast kernels; any other from a
// tensor callback, which runs the model unlowered.
Tensor capture(const Session& session, const std::string& name, const std::vector<Tensor>& feeds) {
  for (size_t i = 0; i < session.inputs().size(); ++i) {
    if (session.inputs()[i].name == name) return feeds[i];
  }
  for (size_t i = 0; i < session.outputs().size(); ++i) {
    if (session.outputs()[i].name == name) return std::move(session.run(feeds)[i]);
  }
  Tensor out;
  RunOptions ro;
  ro.on_tensor = [&](const std::string& value, const Tensor& t) {
    if (value == name) out = t.clone();
  };
  session.run(feeds, ro);
  QUENCH_CHECK(out.defined() && out.dtype() == DType::kFloat32, ErrorKind::kInternal,
               "the layer input '{}' was not computed as float", name);
  return out;
}

}  // namespace

LayerSamples collect_samples(const LayerView& v, const Session& quantized,
                             const std::string& q_value, const Session* fp,
                             const std::string& fp_value, const Feeds& feeds,
                             const SampleRequest& request) {
  const int64_t k = v.shape.x_cols();
  const bool want_fp = fp != nullptr && (request.float_rows || request.means);
  LayerSamples s;
  if (request.means) s.mean.assign(k, 0.0);
  if (request.means && want_fp) s.mean_fp.assign(k, 0.0);
  std::mt19937_64 rng(request.seed);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  double keep = 1.0;
  int64_t positions = 0;
  for (size_t b = 0; b < feeds.size(); ++b) {
    const Tensor xq = capture(quantized, q_value, feeds[b]);
    const Tensor xf = want_fp ? capture(*fp, fp_value, feeds[b]) : Tensor();
    const int64_t n = row_count(v, xq);
    if (b == 0) {
      const double total = static_cast<double>(n) * static_cast<double>(feeds.size());
      keep = std::min(1.0, static_cast<double>(request.max_rows) / total);
    }
    for (int64_t p = 0; p < n && s.m < request.max_rows; ++p) {
      if (keep < 1.0 && coin(rng) >= keep) continue;
      s.x.resize((s.m + 1) * k);
      extract_row(v, xq, p, &s.x[s.m * k]);
      if (want_fp && request.float_rows) {
        s.x_fp.resize((s.m + 1) * k);
        extract_row(v, xf, p, &s.x_fp[s.m * k]);
      }
      ++s.m;
    }
    if (request.means) {
      add_row_sums(v, xq, s.mean);
      if (want_fp) add_row_sums(v, xf, s.mean_fp);
    }
    positions += n;
  }
  for (double& m : s.mean) m /= static_cast<double>(positions);
  for (double& m : s.mean_fp) m /= static_cast<double>(positions);
  return s;
}

std::vector<std::vector<double>> mean_rows(const Model& model, const SessionOptions& options,
                                           const std::vector<LayerView>& views,
                                           const std::vector<std::string>& values,
                                           const Feeds& feeds) {
  QUENCH_CHECK(views.size() == values.size(), ErrorKind::kInternal, "{} layer views for {} values",
               views.size(), values.size());
  // The computed values as the graph's outputs, each once; a graph input is read from the feeds.
  Model m = model;
  const std::vector<std::string>& inputs = m.graph.inputs;
  m.graph.outputs.clear();
  for (const std::string& name : std::set<std::string>(values.begin(), values.end())) {
    if (std::find(inputs.begin(), inputs.end(), name) == inputs.end()) {
      m.graph.outputs.push_back(name);
    }
  }
  if (m.graph.outputs.empty()) m.graph.outputs = model.graph.outputs;  // nothing to compute
  const Session session(std::move(m), options);
  // Where each value comes from: graph input `index`, or graph output `index`.
  struct Source {
    bool input = false;
    size_t index = 0;
  };
  std::vector<Source> from;
  for (const std::string& name : values) {
    std::optional<Source> at;
    for (size_t i = 0; i < session.inputs().size() && !at; ++i) {
      if (session.inputs()[i].name == name) at = Source{true, i};
    }
    for (size_t i = 0; i < session.outputs().size() && !at; ++i) {
      if (session.outputs()[i].name == name) at = Source{false, i};
    }
    QUENCH_CHECK(at.has_value(), ErrorKind::kInternal, "'{}' is neither an input nor an output",
                 name);
    from.push_back(*at);
  }
  std::vector<std::vector<double>> sums(views.size());
  std::vector<int64_t> positions(views.size(), 0);
  for (size_t l = 0; l < views.size(); ++l) sums[l].assign(views[l].shape.x_cols(), 0.0);
  for (const std::vector<Tensor>& batch : feeds) {
    const std::vector<Tensor> outs = session.run(batch);
    for (size_t l = 0; l < views.size(); ++l) {
      const Tensor& t = from[l].input ? batch[from[l].index] : outs[from[l].index];
      add_row_sums(views[l], t, sums[l]);
      positions[l] += row_count(views[l], t);
    }
  }
  for (size_t l = 0; l < views.size(); ++l) {
    for (double& m : sums[l]) m /= static_cast<double>(positions[l]);
  }
  return sums;
}

}  // namespace quench::quant::lowbit

#include "quant/lowbit/layer_samples.h"

#include <random>

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

void add_mean(const LayerView& v, const Tensor& t, std::vector<double>& sum, float* row) {
  const int64_t n = row_count(v, t), k = v.shape.x_cols();
  for (int64_t p = 0; p < n; ++p) {
    extract_row(v, t, p, row);
    for (int64_t c = 0; c < k; ++c) sum[c] += row[c];
  }
}

}  // namespace

LayerSamples collect_samples(const LayerView& v, const Session& quantized,
                             const std::string& q_value, const Session* fp,
                             const std::string& fp_value, const Feeds& feeds,
                             const SampleRequest& request) {
  const int64_t k = v.shape.x_cols();
  const bool want_fp = fp != nullptr && (request.float_rows || request.means);
  LayerSamples s;
  if (request.means) s.mean.assign(k, 0.0), s.mean_fp.assign(k, 0.0);
  std::mt19937_64 rng(request.seed);
  std::uniform_real_distribution<double> coin(0.0, 1.0);
  std::vector<float> scratch(k);
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
      add_mean(v, xq, s.mean, scratch.data());
      if (want_fp) add_mean(v, xf, s.mean_fp, scratch.data());
    }
    positions += n;
  }
  for (int64_t c = 0; c < static_cast<int64_t>(s.mean.size()); ++c) {
    s.mean[c] /= static_cast<double>(positions);
    s.mean_fp[c] /= static_cast<double>(positions);
  }
  return s;
}

}  // namespace quench::quant::lowbit

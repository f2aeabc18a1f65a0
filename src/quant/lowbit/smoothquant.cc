// --smoothquant ALPHA: activation outliers of LayerNormalization outputs migrated into the
// weights of the MatMul/Gemm that read them (docs/quantization.md eq. (87)).
#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/progress.h"
#include "ir/graph_index.h"
#include "quench/evaluate.h"
#include "quench/lowbit.h"
#include "quench/session.h"

namespace quench {
namespace {

struct Smoothable {
  size_t norm = 0;
  std::vector<size_t> readers;  // MatMul/Gemm reading the norm's output as A
};

// Input channel j of a reader's weight: row j of B [K, N], column j of a transposed Gemm B.
bool weight_rows_are_inputs(const Node& n) {
  return !(n.op_type == "Gemm" && n.attr_int("transB", 0) != 0);
}

std::vector<Smoothable> find_smoothable(const Graph& g, std::vector<std::string>& notes) {
  const GraphIndex index(g);
  std::vector<Smoothable> out;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& ln = g.nodes[i];
    if (ln.op_type != "LayerNormalization" || ln.attr_int("axis", -1) != -1) continue;
    if (!ln.has_input(1) || !g.is_initializer(ln.input(1)) || !ln.has_input(2) ||
        !g.is_initializer(ln.input(2)) || index.is_graph_output(ln.outputs[0])) {
      continue;
    }
    Smoothable s;
    s.norm = i;
    bool ok = !index.consumers(ln.outputs[0]).empty();
    for (int c : index.consumers(ln.outputs[0])) {
      const Node& r = g.nodes[c];
      const Tensor* w = r.inputs.size() > 1 ? g.initializer(r.input(1)) : nullptr;
      const bool reader = (r.op_type == "MatMul" || r.op_type == "Gemm") &&
                          r.input(0) == ln.outputs[0] && w != nullptr && w->rank() == 2 &&
                          (r.op_type == "MatMul" || r.attr_int("transA", 0) == 0);
      ok = ok && reader;
      s.readers.push_back(static_cast<size_t>(c));
    }
    if (ok) {
      out.push_back(s);
    } else {
      notes.push_back(
          fmt::format("{}: its output is read by other ops than MatMul/Gemm with "
                      "constant weights; not smoothed",
                      ln.describe()));
    }
  }
  return out;
}

}  // namespace

Model smooth_quant(const Model& prepared, const Dataset& data, float alpha,
                   const CalibrateOptions& calib, SmoothQuantReport* report) {
  QUENCH_CHECK(alpha >= 0.f && alpha <= 1.f, ErrorKind::kInvalidArgument,
               "SmoothQuant's migration strength must be in [0, 1], got {}", alpha);
  SmoothQuantReport local;
  SmoothQuantReport& r = report ? *report : local;
  r = SmoothQuantReport{};
  Model m = prepared;
  Graph& g = m.graph;
  const std::vector<Smoothable> targets = find_smoothable(g, r.notes);
  if (targets.empty()) {
    r.notes.push_back("no LayerNormalization read only by MatMul/Gemm; the model is unchanged");
    return m;
  }
  // max_t |X_tj| per channel of each norm's output, over the calibration data.
  std::map<std::string, std::vector<float>> amax;
  for (const Smoothable& s : targets) amax[g.nodes[s.norm].outputs[0]];
  {
    SessionOptions so;
    so.threads = calib.threads;
    const Session session(m, so);
    const DataBinding binding(session, data, "the calibration data");
    RunOptions ro;
    ro.on_tensor = [&](const std::string& value, const Tensor& t) {
      auto it = amax.find(value);
      if (it == amax.end()) return;
      const int64_t k = t.dim(-1), rows = t.numel() / k;
      auto& a = it->second;
      a.resize(k, 0.f);
      const float* x = t.data<float>();
      for (int64_t i = 0; i < rows; ++i) {
        for (int64_t j = 0; j < k; ++j) a[j] = std::max(a[j], std::abs(x[i * k + j]));
      }
    };
    const int64_t n = std::min(calib.calib_size, data.size());
    Progress progress("smoothquant statistics", n, calib.progress);
    for (int64_t first = 0; first < n; first += calib.batch) {
      const int64_t count = std::min(calib.batch, n - first);
      session.run(binding.feeds(data.batch(first, count)), ro);
      progress.update(first + count);
    }
    progress.finish();
  }
  for (const Smoothable& s : targets) {
    const Node& ln = g.nodes[s.norm];
    const std::vector<float>& xa = amax[ln.outputs[0]];
    const auto k = static_cast<int64_t>(xa.size());
    std::vector<float> wa(k, 0.f);
    for (size_t c : s.readers) {
      const Tensor& w = *g.initializer(g.nodes[c].input(1));
      const bool rows = weight_rows_are_inputs(g.nodes[c]);
      const int64_t other = w.numel() / k;
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t o = 0; o < other; ++o) {
          wa[j] = std::max(wa[j], std::abs(w.data<float>()[rows ? j * other + o : o * k + j]));
        }
      }
    }
    std::vector<float> scale(k, 1.f);
    for (int64_t j = 0; j < k; ++j) {
      if (xa[j] <= 0.f || wa[j] <= 0.f) continue;
      // Eq. (87): s_j = max|X_j|^α / max|W_j|^(1−α).
      scale[j] = std::max(1e-5f, std::pow(xa[j], alpha) / std::pow(wa[j], 1.f - alpha));
    }
    for (size_t in = 1; in <= 2; ++in) {
      Tensor t = g.initializers.at(ln.input(in)).clone();
      QUENCH_CHECK(t.numel() == k, ErrorKind::kUnsupported,
                   "{}: scale and bias must have one value per channel", ln.describe());
      for (int64_t j = 0; j < k; ++j) t.data<float>()[j] /= scale[j];
      g.initializers[ln.input(in)] = std::move(t);
    }
    for (size_t c : s.readers) {
      Tensor w = g.initializers.at(g.nodes[c].input(1)).clone();
      const bool rows = weight_rows_are_inputs(g.nodes[c]);
      const int64_t other = w.numel() / k;
      for (int64_t j = 0; j < k; ++j) {
        for (int64_t o = 0; o < other; ++o)
          w.data<float>()[rows ? j * other + o : o * k + j] *= scale[j];
      }
      g.initializers[g.nodes[c].input(1)] = std::move(w);
      ++r.weights;
    }
    ++r.norms;
  }
  return m;
}

}  // namespace quench

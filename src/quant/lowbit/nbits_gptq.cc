// Weight-only blockwise 4-bit with GPTQ (include/quench/lowbit.h): each MatMul/Gemm written as
// MatMulNBits gets the integers GPTQ chooses on its blockwise grid (docs/quantization.md eqs.
// (123)-(125)), from the layer's inputs in the float model (activations stay float).
#include <chrono>
#include <random>

#include "core/check.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "quant/lowbit/gptq.h"
#include "quant/nbits_writer.h"
#include "quench/evaluate.h"
#include "quench/lowbit.h"
#include "quench/session.h"

namespace quench {
namespace {

// Up to max_rows rows (K values each) of the value `name` over every batch of `feeds`, taken at
// random with a fixed seed when there are more.
std::vector<float> layer_rows(const Model& fp32, const std::string& name, int64_t k,
                              const std::vector<std::vector<Tensor>>& feeds, int64_t max_rows,
                              int threads, int64_t& m) {
  Model fm = fp32;
  fm.graph.outputs.push_back(name);
  SessionOptions so;
  so.threads = threads;
  const Session s(fm, so);
  size_t at = s.outputs().size();
  for (size_t i = 0; i < s.outputs().size(); ++i) {
    if (s.outputs()[i].name == name) at = i;
  }
  QUENCH_CHECK(at < s.outputs().size(), ErrorKind::kInternal, "'{}' is not an output", name);
  std::vector<float> x;
  int64_t seen = 0;
  std::mt19937_64 rng(k);
  for (const auto& f : feeds) {
    const Tensor t = s.run(f)[at];
    QUENCH_CHECK(t.dtype() == DType::kFloat32 && t.numel() % k == 0, ErrorKind::kUnsupported,
                 "'{}': the layer input is not float with {} values per row", name, k);
    const float* d = t.data<float>();
    for (int64_t r = 0; r < t.numel() / k; ++r, ++seen) {
      int64_t slot = static_cast<int64_t>(x.size()) / k;
      if (slot >= max_rows) {  // reservoir sampling: every row kept with the same chance
        slot = std::uniform_int_distribution<int64_t>(0, seen)(rng);
        if (slot >= max_rows) continue;
        std::copy(d + r * k, d + (r + 1) * k, x.begin() + slot * k);
        continue;
      }
      x.insert(x.end(), d + r * k, d + (r + 1) * k);
    }
  }
  m = static_cast<int64_t>(x.size()) / k;
  return x;
}

}  // namespace

Model quantize_matmul_nbits_gptq(const Model& prepared, const QuantRecipe& recipe,
                                 int64_t block_size, const Dataset& data,
                                 const WeightRoundingOptions& o, QuantizeReport* report,
                                 WeightRoundingReport* rounding) {
  QUENCH_CHECK(data.size() > 0 && o.calib_size > 0, ErrorKind::kInvalidArgument,
               "GPTQ needs calibration data (got none)");
  const auto start = std::chrono::steady_clock::now();
  WeightRoundingReport local;
  WeightRoundingReport& rr = rounding ? *rounding : local;
  rr = WeightRoundingReport{};
  SessionOptions so;
  so.threads = o.threads;
  std::vector<std::vector<Tensor>> feeds;
  {
    const Session session(prepared, so);
    const DataBinding binding(session, data, "the calibration data");
    const int64_t n = std::min(o.calib_size, data.size());
    for (int64_t first = 0; first < n; first += o.batch) {
      feeds.push_back(binding.feeds(data.batch(first, std::min(o.batch, n - first))));
    }
  }
  int64_t matmuls = 0;
  for (const auto& node : prepared.graph.nodes) {
    matmuls += node.op_type == "MatMul" || node.op_type == "Gemm";
  }
  Progress progress("rounding weights (GPTQ, 4-bit blocks)", matmuls, o.progress);
  quant::lowbit::GptqOptions go;
  go.damp = o.gptq_damp;
  const quant::NbitsChooser choose =
      [&](const Node& node, int64_t n, int64_t k,
          const std::vector<float>& w) -> std::optional<quant::lowbit::BlockwiseWeights> {
    check_interrupted();
    int64_t m = 0;
    const std::vector<float> x =
        layer_rows(prepared, node.input(0), k, feeds, o.max_rows, o.threads, m);
    auto b = quant::lowbit::gptq_blockwise(n, k, w, x.data(), m, block_size, 15, go);
    ++rr.layers;
    progress.update(rr.layers);
    return b;
  };
  Model m = quant::write_matmul_nbits(prepared, recipe, block_size, report, choose);
  progress.finish();
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& [key, value] : m.metadata) {
    if (key == "quench.quantization") value += ", integers chosen by GPTQ";
  }
  return m;
}

}  // namespace quench

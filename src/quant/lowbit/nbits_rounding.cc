// Weight-only blockwise 4-bit with the integers chosen from data (include/quench/lowbit.h): each
// MatMul/Gemm written as MatMulNBits gets the integers GPTQ (docs/quantization.md eqs.
// (123)-(125)) or AdaRound (eq. (145)) chooses on its blockwise grid, and with bias correction
// its output shift (eq. (146)). Activations stay float in this format, so the model with the
// earlier layers' weights replaced by their 4-bit values is exactly the quantized function: its
// layer inputs are AdaRound's X_q and bias correction's E[x_q].
#include <chrono>
#include <optional>

#include "core/check.h"
#include "core/interrupt.h"
#include "core/progress.h"
#include "quant/lowbit/adaround.h"
#include "quant/lowbit/gptq.h"
#include "quant/lowbit/layer_samples.h"
#include "quant/nbits_writer.h"
#include "quench/evaluate.h"
#include "quench/lowbit.h"
#include "quench/passes.h"
#include "quench/session.h"

namespace quench {
namespace {

constexpr int32_t kLevels = 15;  // MatMulNBits, 4 bits

// Ŵ = s (q − z) of the chosen blocks, [N][K] (eq. (89)).
std::vector<float> dequantized(const quant::lowbit::BlockwiseWeights& b, int64_t n, int64_t k,
                               int64_t block) {
  std::vector<float> w(static_cast<size_t>(n * k));
  for (int64_t row = 0; row < n; ++row) {
    for (int64_t c = 0; c < k; ++c) {
      w[row * k + c] = b.grids[row * b.blocks + c / block].dequantize(b.q[row * k + c]);
    }
  }
  return w;
}

// `node`'s weight in `model` replaced by Ŵ ([N][K], Gemm's alpha included) in the weight's own
// layout, under a new name.
void replace_weight(Model& model, const Node& node, const std::vector<float>& w_hat, int64_t n,
                    int64_t k) {
  Graph& g = model.graph;
  for (Node& target : g.nodes) {
    if (target.outputs != node.outputs) continue;
    const Tensor& w = *g.initializer(target.input(1));
    const bool gemm = target.op_type == "Gemm";
    const bool trans_b = gemm && target.attr_int("transB", 0) != 0;
    const float alpha = gemm ? target.attr_float("alpha", 1.f) : 1.f;
    Tensor t = Tensor::empty(DType::kFloat32, w.shape());
    float* to = t.data<float>();
    for (int64_t row = 0; row < n; ++row) {
      for (int64_t c = 0; c < k; ++c) {
        to[trans_b ? row * k + c : c * n + row] = w_hat[row * k + c] / alpha;
      }
    }
    const std::string name = g.unique_name(target.input(1) + "_4bit");
    g.initializers[name] = std::move(t);
    g.values[name] = ValueInfo{DType::kFloat32, std::nullopt, ""};
    target.inputs[1] = name;
    return;
  }
  QUENCH_CHECK(false, ErrorKind::kInternal, "{} is missing from the partly quantized model",
               node.describe());
}

// `node`'s output in `model` moved by `shift` (one value per column): an Add after it.
void shift_output(Model& model, const Node& node, const std::vector<float>& shift) {
  Graph& g = model.graph;
  for (Node& target : g.nodes) {
    if (target.outputs != node.outputs) continue;
    const std::string y = target.outputs[0];
    const std::string product = g.unique_name(y + "_unshifted");
    g.values[product] = ValueInfo{DType::kFloat32, std::nullopt, ""};
    target.outputs[0] = product;
    const std::string s = g.unique_name(y + "_shift");
    g.initializers[s] = Tensor::from_vector<float>({static_cast<int64_t>(shift.size())}, shift);
    g.values[s] = ValueInfo{DType::kFloat32, std::nullopt, ""};
    Node add;
    add.name = g.unique_name(target.name + "/shift");
    add.op_type = "Add";
    add.inputs = {product, s};
    add.outputs = {y};
    g.nodes.push_back(add);
    topological_sort(g);
    return;
  }
  QUENCH_CHECK(false, ErrorKind::kInternal, "{} is missing from the partly quantized model",
               node.describe());
}

}  // namespace

Model quantize_matmul_nbits_rounded(const Model& prepared, const QuantRecipe& recipe,
                                    int64_t block_size, const Dataset& data,
                                    const WeightRoundingOptions& o, QuantizeReport* report,
                                    WeightRoundingReport* rounding) {
  QUENCH_CHECK(!(o.gptq && o.adaround), ErrorKind::kInvalidArgument,
               "--gptq and --adaround both choose the integer weights; use one of them");
  QUENCH_CHECK(o.gptq || o.adaround || o.bias_correction, ErrorKind::kInvalidArgument,
               "blockwise 4-bit from data needs --gptq, --adaround or --bias-correction");
  QUENCH_CHECK(data.size() > 0 && o.calib_size > 0, ErrorKind::kInvalidArgument,
               "{} needs calibration data (got none)", o.method());
  const auto start = std::chrono::steady_clock::now();
  WeightRoundingReport local;
  WeightRoundingReport& rr = rounding ? *rounding : local;
  rr = WeightRoundingReport{};
  SessionOptions so;
  so.threads = o.threads;
  quant::lowbit::Feeds feeds;
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
  Progress progress(fmt::format("rounding weights ({}, 4-bit blocks)", o.method()), matmuls,
                    o.progress);
  quant::lowbit::GptqOptions go;
  go.damp = o.gptq_damp;
  // The float model with the weights of the layers chosen so far replaced by their 4-bit values.
  Model partly = prepared;
  const bool sequential = o.adaround || o.bias_correction;
  const quant::NbitsChooser choose =
      [&](const Node& node, int64_t n, int64_t k,
          const std::vector<float>& w) -> std::optional<quant::NbitsChoice> {
    check_interrupted();
    // The layer's input as the output of the float model and of the partly quantized one, so that
    // both run on the fast kernels; before the first layer is chosen the two are the same.
    const std::string& input = node.input(0);
    auto with_output = [&](Model model) {
      model.graph.outputs = {input};  // the nodes after it are not run
      return model;
    };
    const Session fp(with_output(prepared), so);
    const bool same = !sequential || rr.layers == 0;
    std::optional<Session> q;
    if (!same) q.emplace(with_output(partly), so);
    quant::lowbit::LayerView v;
    v.shape = quant::lowbit::LayerShape{n, k, 1};
    quant::lowbit::SampleRequest request;
    request.max_rows = o.max_rows;
    request.float_rows = !same;  // GPTQ's H and AdaRound's targets
    request.means = o.bias_correction;
    request.seed = static_cast<uint64_t>(rr.layers);
    const quant::lowbit::LayerSamples x = quant::lowbit::collect_samples(
        v, same ? fp : *q, input, same ? nullptr : &fp, input, feeds, request);
    const std::vector<float>& x_fp = same ? x.x : x.x_fp;
    const std::vector<double>& mean_fp = same ? x.mean : x.mean_fp;
    quant::NbitsChoice choice;
    if (o.gptq) {
      // H from the float model's inputs (eqs. (123)-(125)).
      choice.blocks =
          quant::lowbit::gptq_blockwise(n, k, w, x_fp.data(), x.m, block_size, kLevels, go);
    } else {
      choice.blocks = quant::lowbit::round_blockwise(n, k, w, block_size, kLevels);
      if (o.adaround) {
        quant::lowbit::AdaRoundOptions ao;  // no activation fused with a weight-only MatMul
        ao.iters = o.adaround_iters;
        ao.seed = static_cast<uint64_t>(rr.layers);
        const quant::lowbit::LayerShape shape{n, k, 1};
        const std::vector<int8_t> chosen = quant::lowbit::adaround(
            shape, w, {}, x.x.data(), x_fp.data(), x.m,
            quant::lowbit::WeightGrid::blockwise(choice.blocks, n, k, block_size, kLevels), ao);
        for (size_t i = 0; i < chosen.size(); ++i) {
          choice.blocks.q[i] = static_cast<uint8_t>(chosen[i]);
        }
      }
    }
    const std::vector<float> w_hat = dequantized(choice.blocks, n, k, block_size);
    if (o.bias_correction) {  // eq. (146)
      choice.bias_shift.assign(static_cast<size_t>(n), 0.f);
      for (int64_t row = 0; row < n; ++row) {
        double shift = 0.0;
        for (int64_t c = 0; c < k; ++c) {
          shift += w[row * k + c] * mean_fp[c] - w_hat[row * k + c] * x.mean[c];
        }
        choice.bias_shift[row] = static_cast<float>(shift);
      }
    }
    if (sequential) {
      replace_weight(partly, node, w_hat, n, k);
      if (o.bias_correction) shift_output(partly, node, choice.bias_shift);
    }
    ++rr.layers;
    progress.update(rr.layers);
    return choice;
  };
  Model m = quant::write_matmul_nbits(prepared, recipe, block_size, report, choose);
  progress.finish();
  rr.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (auto& [key, value] : m.metadata) {
    if (key == "quench.quantization") value += ", integers chosen by " + o.method();
  }
  return m;
}

}  // namespace quench

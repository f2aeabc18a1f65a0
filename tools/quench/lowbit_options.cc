#include "quench/lowbit_options.h"

#include <iostream>

namespace quench::cli {

int parse_weight_bits(const std::string& text) {
  int bits = 0;
  size_t used = 0;
  if (text.rfind("int", 0) == 0 && text.size() > 3) {
    try {
      bits = std::stoi(text.substr(3), &used);
    } catch (const std::exception&) {
      used = 0;
    }
  }
  require(used > 0 && used == text.size() - 3, ErrorKind::kInvalidArgument,
          "--weights expects int8, int4, int2 or another intN with N from 2 to 8, got '{}'", text);
  require(bits != 1, ErrorKind::kUnsupported,
          "--weights int1: 1-bit weights are not supported; quench quantizes weights to 2 to 8 "
          "bits");
  require(bits >= 2 && bits <= 8, ErrorKind::kInvalidArgument,
          "--weights {}: weights are quantized to 2 to 8 bits", text);
  return bits;
}

void LowBitCliOptions::apply(QuantRecipe& recipe) const {
  recipe.weight_bits = parse_weight_bits(weights);
  recipe.weight_only = recipe.weight_only || weight_only;
  if (group_size != 0) {
    require(group_size > 0, ErrorKind::kInvalidArgument,
            "--group-size expects a positive block size (32, 64 or 128), got {}", group_size);
    require(weight_only, ErrorKind::kUnsupported,
            "--group-size {}: blockwise weights are written as com.microsoft MatMulNBits, which "
            "keeps activations in float; add --weight-only (blockwise weights with quantized "
            "activations are not supported)",
            group_size);
    require(recipe.weight_bits == 4, ErrorKind::kUnsupported,
            "--group-size {}: blockwise weights are 4-bit (MatMulNBits bits=4); use --weights "
            "int4, got --weights {}",
            group_size, weights);
    require(!rounding(), ErrorKind::kUnsupported,
            "--group-size: --gptq, --adaround and --bias-correction do not support blockwise "
            "scales yet; use round-to-nearest blocks or per-channel scales");
  }
  require(!int4_storage, ErrorKind::kUnsupported,
          "--int4-storage: INT4 initializers need opset 21, which this build's ONNX checker "
          "(opsets up to 17) cannot validate; weights below 8 bits are stored as int8 values "
          "in range");
  require(!(gptq && adaround), ErrorKind::kInvalidArgument,
          "--gptq and --adaround both choose the integer weights; use one of them");
  require(smoothquant < 0.f || smoothquant <= 1.f, ErrorKind::kInvalidArgument,
          "--smoothquant expects a migration strength in [0, 1], got {}", smoothquant);
  require(adaround_iters > 0, ErrorKind::kInvalidArgument,
          "--adaround-iters must be positive, got {}", adaround_iters);
}

WeightRoundingOptions LowBitCliOptions::rounding_options(const CalibrateOptions& calib,
                                                         int threads) const {
  WeightRoundingOptions w;
  w.gptq = gptq;
  w.adaround = adaround;
  w.bias_correction = bias_correction;
  w.adaround_iters = adaround_iters;
  w.calib_size = calib.calib_size;
  w.batch = calib.batch;
  w.threads = threads;
  w.progress = calib.progress;
  return w;
}

void LowBitCliOptions::rewrite(Model& prepared, const Dataset* data,
                               const CalibrateOptions& calib) const {
  if (smoothquant >= 0.f) {
    require(data != nullptr, ErrorKind::kInvalidArgument,
            "--smoothquant needs calibration data (--calib DATA) for the activation ranges");
    SmoothQuantReport r;
    prepared = smooth_quant(prepared, *data, smoothquant, calib, &r);
    std::cout << fmt::format("smoothquant (alpha {}): {} norm output(s) into {} weight(s)\n",
                             smoothquant, r.norms, r.weights);
    for (const auto& note : r.notes) std::cout << "  note: " << note << "\n";
  }
  if (!cle) return;
  EqualizationReport r;
  prepared = equalize_cross_layer(prepared, data, calib, &r);
  std::cout << fmt::format(
      "cross-layer equalization: {} pair(s) in {} sweep(s), {} Clip(s) given per-channel "
      "bounds, bias absorbed in {} pair(s)\n",
      r.pairs, r.sweeps, r.clips_split, r.absorbed_pairs);
  for (const auto& note : r.notes) std::cout << "  note: " << note << "\n";
}

void add_lowbit_options(CLI::App& cmd, LowBitCliOptions& o) {
  cmd.add_option("--weights", o.weights, "Weight bits: int8 (default), int4, int2 (any int2..int8)")
      ->capture_default_str();
  cmd.add_option("--group-size", o.group_size,
                 "4-bit weight block size along K (with --weight-only --weights int4): MatMul/Gemm "
                 "written as com.microsoft MatMulNBits");
  cmd.add_flag("--weight-only", o.weight_only,
               "Quantize weights only (Conv/Gemm/MatMul); activations stay float");
  cmd.add_flag("--int4-storage", o.int4_storage, "INT4 initializers (needs opset 21; refused)");
  cmd.add_flag("--gptq", o.gptq, "Choose integer weights with GPTQ (needs --calib)");
  cmd.add_flag("--adaround", o.adaround, "Choose integer weights with AdaRound (needs --calib)");
  cmd.add_option("--adaround-iters", o.adaround_iters, "AdaRound steps per layer")
      ->capture_default_str();
  cmd.add_flag("--cle", o.cle,
               "Cross-layer equalization with high-bias absorption (absorption needs --calib)");
  cmd.add_option("--smoothquant", o.smoothquant,
                 "SmoothQuant with this migration strength (0..1, e.g. 0.5; needs --calib)");
  cmd.add_flag("--bias-correction", o.bias_correction,
               "Correct biases for the quantization's mean output shift (needs --calib)");
}

}  // namespace quench::cli

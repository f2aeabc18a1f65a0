// Low-bit post-training quantization: algorithms that choose the integer weights (GPTQ,
// AdaRound), correct the biases, or rescale the float model before calibration so that it
// quantizes better. docs/quantization.md gives their equations, docs/cli.md the options.
#pragma once

#include <string>
#include <vector>

#include "quench/calibration.h"
#include "quench/data.h"
#include "quench/graph.h"
#include "quench/quantize.h"

namespace quench {

struct WeightRoundingOptions {
  bool gptq = false;             // GPTQ (Frantar et al., 2022)
  bool adaround = false;         // AdaRound (Nagel et al., 2020)
  bool bias_correction = false;  // empirical bias correction (Nagel et al., 2019)
  int64_t adaround_iters = 1000;
  double gptq_damp = 0.01;
  // GPTQ's target: the float model's layer output (eqs. (159)-(160)), else the float weights on
  // the quantized model's inputs (GPTQ as published).
  bool gptq_float_target = true;
  int64_t max_rows = 16384;  // rows of each layer's input sampled for GPTQ and AdaRound
  int64_t calib_size = 512;  // calibration samples (from the start of the data set)
  int64_t batch = 32;
  int threads = 0;
  bool progress = true;

  // "GPTQ", "AdaRound" or "rounding to nearest", with " + bias correction" when asked.
  std::string method() const;
};

struct WeightRoundingReport {
  int64_t layers = 0;              // layers whose weights an algorithm chose
  std::vector<std::string> notes;  // layers left to plain rounding, and why
  double seconds = 0.0;            // wall time of the algorithms (data collection included)
};

// quantize_static() with the weights chosen layer by layer, in graph order, by GPTQ or AdaRound
// (else rounded to nearest) and biases corrected, each layer seeing its inputs as the model with
// the earlier layers already quantized computes them on `data`. kInvalidArgument when both GPTQ
// and AdaRound are asked for or none of the three.
Model quantize_rounded(const Model& prepared, const CalibrationTable& table,
                       const QuantRecipe& recipe, const Dataset& data,
                       const WeightRoundingOptions& options, QuantizeReport* report = nullptr,
                       WeightRoundingReport* rounding = nullptr);

// quantize_static() with biases corrected without data (docs/quantization.md eq. (142)): each
// Conv, Gemm or MatMul whose input a BatchNormalization of `fp32` produces, alone or through a
// Relu or Clip, takes into its bias its weights' rounding error times the input's expected value,
// which the normalization's scale and bias give (eqs. (140)-(141)). Other layers keep their bias,
// with a note. `prepared` is prepare_for_quantization(fp32). kInvalidArgument when `fp32` has no
// BatchNormalization.
Model quantize_bias_corrected_analytic(const Model& fp32, const Model& prepared,
                                       const CalibrationTable& table, const QuantRecipe& recipe,
                                       QuantizeReport* report = nullptr,
                                       WeightRoundingReport* rounding = nullptr);

// quantize_matmul_nbits() with the integers chosen from `data`: by GPTQ on each block's grid
// (docs/quantization.md eqs. (123)-(125)), from the layer's inputs in the float model, or by
// AdaRound on the block grids of rounding to nearest (eq. (145)), from its inputs in the float
// model and in the model with the earlier layers' 4-bit weights (else rounding to nearest); with
// options.bias_correction each layer's output gets the mean shift of eq. (146) back. Layers are
// taken in graph order. options.adaround_iters, gptq_damp, max_rows, calib_size, batch, threads
// and progress apply. kInvalidArgument when both GPTQ and AdaRound are asked for or none of the
// three.
Model quantize_matmul_nbits_rounded(const Model& prepared, const QuantRecipe& recipe,
                                    int64_t block_size, const Dataset& data,
                                    const WeightRoundingOptions& options,
                                    QuantizeReport* report = nullptr,
                                    WeightRoundingReport* rounding = nullptr);

}  // namespace quench

namespace quench {

struct EqualizationReport {
  int64_t pairs = 0;           // Conv → (Relu | Clip | nothing) → Conv pairs rescaled
  int sweeps = 0;              // passes over the pairs until the scales settled
  int64_t clips_split = 0;     // Clip(0, hi) made Relu + per-channel Min (eq. (85))
  int64_t absorbed_pairs = 0;  // pairs whose conv1 bias moved into conv2 (eq. (86))
  std::vector<std::string> notes;
};

// Cross-layer equalization (and, with data, high-bias absorption) on a prepared FP32 model; the
// float function is unchanged (absorption: on the calibration data, see eq. (86)). A model with
// no such pair comes back unchanged with a note.
Model equalize_cross_layer(const Model& prepared, const Dataset* data,
                           const CalibrateOptions& calib, EqualizationReport* report = nullptr);

}  // namespace quench

namespace quench {

struct SmoothQuantReport {
  int64_t norms = 0;    // LayerNormalization nodes whose output was smoothed
  int64_t weights = 0;  // MatMul/Gemm weights that took the scales
  std::vector<std::string> notes;
};

// SmoothQuant (Xiao et al., 2022) on a prepared FP32 model: the per-channel ranges of each
// LayerNormalization output read only by MatMul/Gemm with constant weights, measured on `data`,
// move into those weights with strength `alpha` in [0, 1] (eq. (87)); the float function is
// unchanged. kInvalidArgument for an alpha outside [0, 1].
Model smooth_quant(const Model& prepared, const Dataset& data, float alpha,
                   const CalibrateOptions& calib, SmoothQuantReport* report = nullptr);

}  // namespace quench

namespace quench {

// Static quantization with the low-bit steps, as `quench quantize --mode static` runs it:
// rewrite (SmoothQuant, then CLE) → calibrate (or use the given table) → write the QDQ model,
// with GPTQ / AdaRound / bias correction choosing the weights when asked. The error messages
// name the CLI's flags (docs/cli.md); the Python package passes the same names underscored.
struct LowBitOptions {
  std::string weights = "int8";  // int2 ... int8
  int64_t group_size = 0;        // 4-bit weight-only blocks along K: MatMul/Gemm as MatMulNBits
  // The MatMulNBits nodes' accuracy_level attribute (0: not written): 4 lets the runtimes
  // quantize A to int8 per block (docs/quantization.md eq. (161)); 1-3 name float precisions.
  int64_t accuracy_level = 0;
  bool weight_only = false;
  bool int4_storage = false;  // weights of 4 bits or fewer stored as ONNX INT4 (opset 21)
  bool gptq = false;
  // GPTQ's target, "float" or "quantized" (WeightRoundingOptions::gptq_float_target).
  std::string gptq_target = "float";
  bool adaround = false;
  int64_t adaround_iters = WeightRoundingOptions{}.adaround_iters;
  bool bias_correction = false;
  bool cle = false;
  float smoothquant = -1.f;  // migration strength in [0, 1]; negative: off

  bool rounding() const { return gptq || adaround || bias_correction; }
  // The rounding algorithms asked for (gptq, gptq_float_target, adaround, adaround_iters,
  // bias_correction); the data and run fields keep their defaults.
  WeightRoundingOptions rounding_options() const;
  // Whether any option differs from plain 8-bit static quantization.
  bool any() const {
    return weights != "int8" || group_size != 0 || accuracy_level != 0 || weight_only ||
           int4_storage || rounding() || gptq_target != "float" || cle || smoothquant >= 0.f;
  }
  // Checks the options by themselves and sets the recipe's weight bits and weight-only flag.
  void apply(QuantRecipe& recipe) const;
  // Checks what the options need from the sources: no table with CLE/SmoothQuant, data for GPTQ
  // and AdaRound; bias correction without data is the analytic form, not after CLE.
  void check_sources(bool has_data, bool has_table) const;
};

// "int4" -> 4; kInvalidArgument for anything but int2 ... int8, kUnsupported for int1.
int parse_weight_bits(const std::string& text);

struct StaticQuantReport {
  CalibrationTable table;          // the table used (calibrated or given)
  WeightRoundingReport rounding;   // when a rounding algorithm ran
  std::vector<std::string> lines;  // what the rewrites and rounding did, one line each
};

// The pipeline above on an FP32 model. `table` (when not null) replaces calibration; `data` is
// needed for calibration without a table, SmoothQuant, bias absorption and the rounding
// algorithms. `recipe` must have gone through options.apply().
Model quantize_static_lowbit(const Model& fp32, const QuantRecipe& recipe, const Dataset* data,
                             const CalibrationTable* table, const LowBitOptions& options,
                             const CalibrateOptions& calib, int threads,
                             QuantizeReport* report = nullptr,
                             StaticQuantReport* details = nullptr);

}  // namespace quench

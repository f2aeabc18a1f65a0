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
  int64_t max_rows = 16384;  // rows of each layer's input sampled for GPTQ and AdaRound
  int64_t calib_size = 512;  // calibration samples (from the start of the data set)
  int64_t batch = 32;
  int threads = 0;
  bool progress = true;
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

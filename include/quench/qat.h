// Quantization-aware training (docs/quantization.md (95)-(106), docs/training.md): fake
// quantization placed where `quench quantize` puts Q/DQ, initialised from a PTQ calibration,
// trained with the straight-through estimator and learned step sizes (LSQ, LSQ+), optionally
// distilled from the FP32 model, and exported as a standard QDQ model.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/graph.h"
#include "quench/quantize.h"
#include "quench/train.h"

namespace quench {

struct QatOptions {
  TrainOptions train;       // the shared training options (steps, batch, lr, optimizer, ...)
  int weight_bits = 8;      // 2 to 8; the recipe's per-node widths take precedence
  int activation_bits = 8;  // 2 to 8
  // The first and last quantized layers keep 8-bit weights and 8-bit input/output activations
  // unless the recipe sets their width.
  bool keep_ends_8bit = true;
  // Weights of 4 bits or fewer exported as ONNX INT4 initializers (opset 21; quant/int4_storage.h).
  bool int4_storage = false;
  bool fixed_scales = false;  // scales and zero points stay at their PTQ values (plain STE)
  bool distill = true;        // knowledge distillation from the FP32 model (105)
  // Conv→BatchNormalization: "simulate" keeps the batch norm in training with the weights
  // quantized in their folded form (107)-(109), frozen after train.freeze_bn_after; "fold" folds
  // it before training (the default: simulate lost 0.15 pt on the cnn and is 1.4× slower,
  // docs/benchmarks.md). The exported model is folded either way.
  std::string bn_fold = "fold";
  float distill_weight = 0.5f;
  float temperature = 4.0f;
  CalibrateOptions calib;
  // Validation accuracy of the PTQ starting point (before any update); -1 without validation.
  std::function<void(double accuracy)> on_start;
};

struct QatResult {
  Model model;  // the QDQ model with the trained weights and learned scales
  QuantizeReport report;
  std::vector<TrainEpoch> epochs;
  double ptq_accuracy = -1;  // validation accuracy before training (-1 without validation)
  int64_t steps = 0;
  double first_loss = 0;
  double last_loss = 0;
  double seconds = 0;
};

// `model` is the FP32 model; `calib` gives the initial ranges (its first options.calib.calib_size
// samples); `val` may be nullptr. Refuses, before any training, bit widths outside 2..8, a
// weight-only recipe, and a model with an op that has no gradient between a weight and the output.
QatResult quantization_aware_training(const Model& model, const Dataset& train,
                                      const Dataset& calib, const Dataset* val,
                                      const QuantRecipe& recipe, const QatOptions& options);

// "w4a8" -> {4, 8}: weight and activation bits, 2 to 8 each (kInvalidArgument otherwise).
std::pair<int, int> parse_qat_bits(const std::string& text);

}  // namespace quench

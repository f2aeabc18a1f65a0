// The low-bit options of `quench quantize`: weight bit width, weight-only, and the algorithms
// (GPTQ, AdaRound, bias correction, CLE, SmoothQuant) with what each needs.
#pragma once

#include <optional>
#include <string>

#include "quench/cli.h"
#include "quench/lowbit.h"

namespace quench::cli {

struct LowBitCliOptions {
  std::string weights = "int8";
  int64_t group_size = 0;
  bool weight_only = false;
  bool int4_storage = false;
  bool gptq = false;
  bool adaround = false;
  int64_t adaround_iters = WeightRoundingOptions{}.adaround_iters;
  bool bias_correction = false;
  bool cle = false;
  float smoothquant = -1.f;  // migration strength; negative: off

  bool rounding() const { return gptq || adaround || bias_correction; }
  // Whether any option differs from plain 8-bit static quantization.
  bool any() const {
    return weights != "int8" || group_size != 0 || weight_only || int4_storage || rounding() ||
           cle || smoothquant >= 0.f;
  }
  // Checks the combination and sets the recipe's weight format.
  void apply(QuantRecipe& recipe) const;
  WeightRoundingOptions rounding_options(const CalibrateOptions& calib, int threads) const;
  // The float-model rewrites asked for (CLE, SmoothQuant), applied to the prepared model before
  // calibration; prints what they did.
  void rewrite(Model& prepared, const Dataset* data, const CalibrateOptions& calib) const;
};
void add_lowbit_options(CLI::App& cmd, LowBitCliOptions& o);

// "int4" -> 4; kInvalidArgument for anything but int2 ... int8.
int parse_weight_bits(const std::string& text);

}  // namespace quench::cli

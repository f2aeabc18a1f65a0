// What the weight-rounding driver chooses before the QDQ writer runs: the integer weights of each
// layer (GPTQ, AdaRound or rounding to nearest) and the biases bias correction moved. Automatic
// mixed precision (quench/sensitivity.h) builds every trial from one such choice.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quant/qparams.h"
#include "quench/lowbit.h"

namespace quench::quant::lowbit {

struct RoundedLayer {
  std::string node;    // the Conv/Gemm/MatMul
  std::string weight;  // its weight initializer
  std::string bias;    // its bias initializer ("" when none)
};

struct RoundedLayers {
  // The prepared model with the biases bias correction added (zeros) and corrected.
  Model work;
  std::map<std::string, WeightQuant> weights;  // the chosen integers, by weight initializer
  std::vector<RoundedLayer> layers;            // the layers chosen, in graph order
};

// quantize_rounded() up to the writer (include/quench/lowbit.h): the same checks, the same
// layer-by-layer choice.
RoundedLayers choose_rounded(const Model& prepared, const CalibrationTable& table,
                             const QuantRecipe& recipe, const Dataset& data,
                             const WeightRoundingOptions& options, WeightRoundingReport& report);

}  // namespace quench::quant::lowbit

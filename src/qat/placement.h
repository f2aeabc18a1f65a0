// Where quantization-aware training puts its FakeQuantize nodes: exactly where the QDQ writer puts
// Q/DQ for the same quant plan (quant/quant_plan.h), initialised from a PTQ QuantSource
// (docs/quantization.md (103)).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quant/quant_plan.h"
#include "quant/quant_source.h"
#include "train/qat/fake_quantize.h"

namespace quench::qat {

// The learned parameters of one quantized activation (shared by the tensors that take their
// parameters from it, quant::ActivationQuant::params_from).
struct ActivationParams {
  std::string scale;       // float scalar initializer of the training graph
  std::string zero_point;  // float scalar (LSQ+ offset); empty when symmetric (z = 0)
  train::qat::FakeQuantSpec spec;
};

struct WeightParams {
  std::string scale;  // float [C] (per channel) or [1]
  train::qat::FakeQuantSpec spec;
};

struct QatGraph {
  Graph graph;                            // the prepared graph with FakeQuantize nodes
  std::vector<std::string> weights;       // float weights and biases the training updates
  std::vector<std::string> quant_params;  // scales and offsets, learned unless fixed
  std::map<std::string, ActivationParams> activations;  // by params_from value
  std::map<std::string, WeightParams> weight_params;    // by weight initializer
};

// `activation_bits` (2-8) for every quantized activation except those in `eight_bit` (the first
// layer's input and the last layer's output by default). Weight bits come from the plan.
// Activations below 8 bits start from `narrow_init` where given (ranges selected for their own
// grid), else from `init`.
QatGraph place_fake_quantization(const Graph& prepared, const quant::QuantPlan& plan,
                                 const quant::QuantSource& init, int activation_bits,
                                 const std::set<std::string>& eight_bit,
                                 const quant::QuantSource* narrow_init = nullptr);

}  // namespace quench::qat

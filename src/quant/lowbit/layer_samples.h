// The inputs of one layer, gathered from calibration batches run through a model whose earlier
// layers are already quantized (and, for the targets, through the float model): a random sample
// of the rows of X, and the mean row over all of them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/lowbit/layer_matrix.h"
#include "quench/session.h"

namespace quench::quant::lowbit {

// The calibration data as session feeds, one entry per batch.
using Feeds = std::vector<std::vector<Tensor>>;

struct SampleRequest {
  int64_t max_rows = 16384;  // rows of X kept (chosen at random, the same ones in both models)
  bool float_rows = false;   // also keep the float model's rows (AdaRound's targets)
  bool means = false;        // mean rows over every position (bias correction)
  uint64_t seed = 0;
};

struct LayerSamples {
  int64_t m = 0;
  std::vector<float> x, x_fp;         // m × x_cols
  std::vector<double> mean, mean_fp;  // x_cols each (mean_fp only when `fp` was given)
};

// Runs `quantized` (and `fp`, when rows or means of the float model are asked for) on every
// batch and collects the layer input `q_value` (`fp_value` in the float model).
LayerSamples collect_samples(const LayerView& v, const Session& quantized,
                             const std::string& q_value, const Session* fp,
                             const std::string& fp_value, const Feeds& feeds,
                             const SampleRequest& request);

// The mean input row of every layer `views[l]`, whose input is the value `values[l]` of `model`
// (a graph input or any computed value), over every position of every batch: one run of `model`
// per batch, with those values as its outputs, for all layers (bias correction's float means,
// which no earlier layer's rounding changes).
std::vector<std::vector<double>> mean_rows(const Model& model, const SessionOptions& options,
                                           const std::vector<LayerView>& views,
                                           const std::vector<std::string>& values,
                                           const Feeds& feeds);

}  // namespace quench::quant::lowbit

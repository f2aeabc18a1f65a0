// Cross-layer equalization with high-bias absorption (Nagel et al., 2019, "Data-Free
// Quantization"): pairs Conv → (Relu | Clip | nothing) → Conv are rescaled per channel so that
// both weights have the same channel ranges, which per-tensor weight scales then fit
// (docs/quantization.md eqs. (82)-(86)).
#pragma once

#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench::quant::lowbit {

// Conv1 → activation → Conv2, node indices (act -1: none).
struct ConvPair {
  size_t conv1 = 0;
  int act = -1;
  size_t conv2 = 0;
};

// The pairs CLE can rescale exactly (conv1's output and the activation's read by one node each,
// constant weights, a Clip with lower bound 0).
std::vector<ConvPair> equalizable_pairs(const Graph& g);

// Rescales every pair until the largest change of a sweep is below 10⁻⁴ (or 100 sweeps);
// returns the sweeps and, per pair, the channel scales applied in total (eq. (84)).
int equalize_pairs(Graph& g, const std::vector<ConvPair>& pairs,
                   std::vector<std::vector<float>>& total_scales);

}  // namespace quench::quant::lowbit

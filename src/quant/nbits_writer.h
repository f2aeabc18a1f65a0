// The MatMulNBits writer with integers chosen by a caller (GPTQ, AdaRound) instead of rounding to
// nearest, and output shifts (bias correction).
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "quant/lowbit/gptq.h"
#include "quench/quantize.h"

namespace quench::quant {

// What a caller chose for one MatMul/Gemm: its blocks (grids and integers 0..15 for every
// element, W's layout, blocks of the writer's size) and, when not empty, one value per output
// column added to the layer's output (bias correction, eq. (146)).
struct NbitsChoice {
  lowbit::BlockwiseWeights blocks;
  std::vector<float> bias_shift;
};

// Called for each MatMul/Gemm written, in graph order, with its weight as W = [N][K] row-major
// (Gemm's alpha included); returns the choice, or nothing for rounding to nearest.
using NbitsChooser = std::function<std::optional<NbitsChoice>(
    const Node& node, int64_t n, int64_t k, const std::vector<float>& w)>;

Model write_matmul_nbits(const Model& prepared, QuantRecipe recipe, int64_t block_size,
                         QuantizeReport* report, const NbitsChooser& choose);

}  // namespace quench::quant

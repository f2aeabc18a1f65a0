// The MatMulNBits writer with integers chosen by a caller (GPTQ) instead of rounding to nearest.
#pragma once

#include <functional>
#include <optional>
#include <vector>

#include "quant/lowbit/gptq.h"
#include "quench/quantize.h"

namespace quench::quant {

// Called for each MatMul/Gemm written, with its weight as W = [N][K] row-major (Gemm's alpha
// included); returns the blocks to write (their grids and integers 0..15 for every element,
// W's layout, blocks of the writer's size), or nothing for rounding to nearest.
using NbitsChooser = std::function<std::optional<lowbit::BlockwiseWeights>(
    const Node& node, int64_t n, int64_t k, const std::vector<float>& w)>;

Model write_matmul_nbits(const Model& prepared, QuantRecipe recipe, int64_t block_size,
                         QuantizeReport* report, const NbitsChooser& choose);

}  // namespace quench::quant

// GPTQ (Frantar et al., 2022): weights rounded one column at a time, the rounding error of each
// column spread over the columns not yet rounded through the inverse Hessian of the layer's
// reconstruction error (docs/quantization.md eqs. (70)-(75)).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/lowbit/layer_matrix.h"

namespace quench::quant::lowbit {

struct GptqOptions {
  double damp = 0.01;     // λ of eq. (71), relative to the mean of diag(H)
  int64_t block = 128;    // columns per lazy batch (eq. (75))
  bool act_order = true;  // columns in order of decreasing H_ii (eq. (72))
};

// W (rows × cols per `s`, row-major) rounded to [-qmax, qmax] with the per-row scales (one
// value: per tensor), from the m rows of X (x_cols values each) the layer reads in the quantized
// model. With x_fp (the same rows in the float model) the target is the float layer's output
// (eqs. (159)-(160)); without it, W on the quantized model's inputs (GPTQ as published).
std::vector<int8_t> gptq(const LayerShape& s, const std::vector<float>& w, const float* x,
                         int64_t m, const std::vector<float>& scales, int32_t qmax,
                         const GptqOptions& options, const float* x_fp = nullptr);

// Blockwise asymmetric grid of MatMulNBits (docs/quantization.md eqs. (88)-(90)): integers
// 0..levels, value (q - zero_point) · scale.
struct BlockGrid {
  float scale = 1.f;
  int32_t zero_point = 0;
  int32_t quantize(float v, int32_t levels) const;
  float dequantize(int32_t q) const { return static_cast<float>(q - zero_point) * scale; }
};

// The grid of the n values v (eq. (88)).
BlockGrid block_grid(const float* v, int64_t n, int32_t levels);

// W (rows × cols, row-major) as integers in blocks of `block` columns per row, grid j of row r
// at grids[r · blocks + j] (the last block may be short).
struct BlockwiseWeights {
  int64_t blocks = 0;
  std::vector<uint8_t> q;
  std::vector<BlockGrid> grids;
};

// Rounding to nearest on each block's grid.
BlockwiseWeights round_blockwise(int64_t rows, int64_t cols, const std::vector<float>& w,
                                 int64_t block, int32_t levels);

// GPTQ on the blockwise grid (eqs. (123)-(125)), from the m rows of X (cols values each).
BlockwiseWeights gptq_blockwise(int64_t rows, int64_t cols, const std::vector<float>& w,
                                const float* x, int64_t m, int64_t block, int32_t levels,
                                const GptqOptions& options);

}  // namespace quench::quant::lowbit

// AdaRound (Nagel et al., 2020): each weight rounds down or up, as learned per layer from its
// inputs: a rectified sigmoid relaxes the choice, a regulariser annealed from β = 20 to 2 pushes
// it to 0 or 1, Adam minimizes the layer's output error against the float layer on float inputs
// (docs/quantization.md eqs. (76)-(80); on the blockwise grids of MatMulNBits, eq. (145)).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "quant/lowbit/gptq.h"
#include "quant/lowbit/layer_matrix.h"

namespace quench::quant::lowbit {

struct AdaRoundOptions {
  int64_t iters = 2000;
  int64_t batch = 256;   // rows of X per step
  float lambda = 0.01f;  // weight of the regulariser, eq. (78)
  float beta_start = 20.f, beta_end = 2.f;
  float warmup = 0.2f;  // share of the steps without the regulariser
  float lr = 1e-1f;     // Adam step on V
  uint64_t seed = 0;
  // The activation fused after the layer (Relu, Clip): the error is measured after it.
  float act_lo = -std::numeric_limits<float>::infinity();
  float act_hi = std::numeric_limits<float>::infinity();
};

// The integer grid each weight rounds on: value (q − zero_point)·scale with q in [lo, hi]. A
// per-row symmetric grid (eq. (77)) has zero point 0 and [−Q_b, Q_b]; a MatMulNBits block its own
// scale and zero point on [0, 15] (eq. (145)).
struct WeightGrid {
  std::vector<float> scale;       // one per weight, W's layout
  std::vector<float> zero_point;  // one per weight
  float lo = 0.f, hi = 0.f;

  // Row r's scale (one value: per tensor) for every weight of the row, zero points 0.
  static WeightGrid per_row(const LayerShape& s, const std::vector<float>& scales, int32_t qmax);
  // Each weight of W (rows × cols) on its block's scale and zero point, q in [0, levels].
  static WeightGrid blockwise(const BlockwiseWeights& b, int64_t rows, int64_t cols, int64_t block,
                              int32_t levels);
  float value(int64_t i, float q) const { return (q - zero_point[i]) * scale[i]; }
};

// W (rows × cols per `s`) rounded on `grid`. x_q: m rows of X as the quantized model feeds the
// layer; x_fp: the same rows in the float model; bias: one per row or empty. Returns the
// integers, each ⌊W/s + z⌋ or one more, in [grid.lo, grid.hi].
std::vector<int8_t> adaround(const LayerShape& s, const std::vector<float>& w,
                             const std::vector<float>& bias, const float* x_q, const float* x_fp,
                             int64_t m, const WeightGrid& grid, const AdaRoundOptions& options);

// The output error Σ (f(X_fp·Wᵀ + b) − f(X_q·Ŵᵀ + b))² / m of integer weights q on `grid` (the
// measure AdaRound minimizes; also used by tests to compare roundings).
double layer_output_error(const LayerShape& s, const std::vector<float>& w,
                          const std::vector<float>& bias, const float* x_q, const float* x_fp,
                          int64_t m, const std::vector<int8_t>& q, const WeightGrid& grid,
                          const AdaRoundOptions& act);

}  // namespace quench::quant::lowbit

// AdaRound (Nagel et al., 2020): each weight rounds down or up, as learned per layer from its
// inputs: a rectified sigmoid relaxes the choice, a regulariser annealed from β = 20 to 2 pushes
// it to 0 or 1, Adam minimizes the layer's output error against the float layer on float inputs
// (docs/quantization.md eqs. (76)-(80)).
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

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

// W (rows × cols per `s`) rounded to [-qmax, qmax] with the per-row scales (one value: per
// tensor). x_q: m rows of X as the quantized model feeds the layer; x_fp: the same rows in the
// float model; bias: one per row or empty.
std::vector<int8_t> adaround(const LayerShape& s, const std::vector<float>& w,
                             const std::vector<float>& bias, const float* x_q, const float* x_fp,
                             int64_t m, const std::vector<float>& scales, int32_t qmax,
                             const AdaRoundOptions& options);

// The output error Σ (f(X_fp·Wᵀ + b) − f(X_q·Ŵᵀ + b))² / m of integer weights q (the measure
// AdaRound minimizes; also used by tests to compare roundings).
double layer_output_error(const LayerShape& s, const std::vector<float>& w,
                          const std::vector<float>& bias, const float* x_q, const float* x_fp,
                          int64_t m, const std::vector<int8_t>& q, const std::vector<float>& scales,
                          const AdaRoundOptions& act);

}  // namespace quench::quant::lowbit

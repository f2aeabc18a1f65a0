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
// value: per tensor), from the m rows of X (x_cols values each) the layer reads.
std::vector<int8_t> gptq(const LayerShape& s, const std::vector<float>& w, const float* x,
                         int64_t m, const std::vector<float>& scales, int32_t qmax,
                         const GptqOptions& options);

}  // namespace quench::quant::lowbit

// Empirical bias correction (Nagel et al., 2019): the mean shift that quantizing a layer's weights
// (and its inputs) causes in its output, measured on calibration data, is folded into its bias
// (docs/quantization.md eq. (81)).
#pragma once

#include <cstdint>
#include <vector>

#include "quant/lowbit/layer_matrix.h"

namespace quench::quant::lowbit {

// bias[r] += W_r · E[x_fp] − Ŵ_r · E[x_q], Ŵ = q · scale, over the columns of row r's group.
void correct_bias(const LayerShape& s, const std::vector<float>& w, const std::vector<int8_t>& q,
                  const std::vector<float>& scales, const std::vector<double>& mean_fp,
                  const std::vector<double>& mean_q, std::vector<float>& bias);

}  // namespace quench::quant::lowbit

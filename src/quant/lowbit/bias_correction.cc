#include "quant/lowbit/bias_correction.h"

#include "core/check.h"

namespace quench::quant::lowbit {

void correct_bias(const LayerShape& s, const std::vector<float>& w, const std::vector<int8_t>& q,
                  const std::vector<float>& scales, const std::vector<double>& mean_fp,
                  const std::vector<double>& mean_q, std::vector<float>& bias) {
  const int64_t r = s.group_rows(), k = s.cols;
  const auto x_cols = static_cast<size_t>(s.x_cols()), rows = static_cast<size_t>(s.rows);
  QUENCH_CHECK(mean_fp.size() == x_cols && mean_q.size() == x_cols && bias.size() == rows &&
                   w.size() == rows * s.cols && q.size() == w.size(),
               ErrorKind::kInternal,
               "bias correction of a {}x{} layer got mean rows of {} and {} values, {} biases",
               s.rows, x_cols, mean_fp.size(), mean_q.size(), bias.size());
  for (int64_t row = 0; row < s.rows; ++row) {
    const int64_t col0 = (row / r) * k;
    const double scale = scales[scales.size() == 1 ? 0 : row];
    double shift = 0.0;
    for (int64_t c = 0; c < k; ++c) {
      shift += w[row * k + c] * mean_fp[col0 + c] - scale * q[row * k + c] * mean_q[col0 + c];
    }
    bias[row] += static_cast<float>(shift);  // eq. (81)
  }
}

}  // namespace quench::quant::lowbit

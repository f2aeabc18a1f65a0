// Reference normalization kernels: batch, layer and instance normalization, and the softmax
// family. Statistics (means, variances, softmax sums) accumulate in double so that these kernels
// are accurate oracles; values are stored in T.
#pragma once

#include <cstdint>

namespace quench::ref {

// Inference batch normalization of x viewed as [batch, channels, spatial]:
// y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + bias[c].
struct BatchNormParams {
  int64_t batch = 0, channels = 0, spatial = 0;
  float epsilon = 1e-5f;
};
template <class T>
void batch_norm(const BatchNormParams& p, const T* x, const T* scale, const T* bias, const T* mean,
                const T* var, T* y);

// Layer normalization of x viewed as [rows, cols] (cols = the normalized dims): each row is
// standardized with its mean and population variance, then scaled and shifted.
struct LayerNormParams {
  int64_t rows = 0, cols = 0;
  float epsilon = 1e-5f;
  // Element (row, col) reads scale[scale_offsets[row * scale_row_step + col]] (likewise bias);
  // nullptr offsets mean scale[col] (the scale has exactly the normalized shape).
  const int64_t* scale_offsets = nullptr;
  int64_t scale_row_step = 0;
  const int64_t* bias_offsets = nullptr;
  int64_t bias_row_step = 0;
};
// `bias`, `mean_out` and `inv_std_out` (one value per row) may be nullptr.
template <class T>
void layer_norm(const LayerNormParams& p, const T* x, const T* scale, const T* bias, T* y,
                float* mean_out, float* inv_std_out);

// Instance normalization of x viewed as [batch, channels, spatial]: each (batch, channel) plane
// is standardized with its own statistics, then scaled and shifted by scale[c], bias[c].
template <class T>
void instance_norm(const BatchNormParams& p, const T* x, const T* scale, const T* bias, T* y);

// Softmax, LogSoftmax and Hardmax of x viewed as [outer, axis, inner], along the middle dim.
// Softmax subtracts the maximum before exponentiating, so large inputs do not overflow. Hardmax
// sets 1 at the first maximum. y may alias x.
enum class SoftmaxKind { kSoftmax, kLogSoftmax, kHardmax };
struct SoftmaxParams {
  SoftmaxKind kind = SoftmaxKind::kSoftmax;
  int64_t outer = 0, axis = 0, inner = 0;
};
template <class T>
void softmax(const SoftmaxParams& p, const T* x, T* y);

}  // namespace quench::ref

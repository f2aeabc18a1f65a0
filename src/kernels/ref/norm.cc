#include "kernels/ref/norm.h"

#include <cmath>

namespace quench::ref {
namespace {

// Mean and population variance of x[0..n); two passes, so that a large mean does not cancel the
// variance.
template <class T>
void mean_and_variance(const T* x, int64_t n, double& mean, double& variance) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  mean = n > 0 ? sum / static_cast<double>(n) : 0.0;
  double squares = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    squares += d * d;
  }
  variance = n > 0 ? squares / static_cast<double>(n) : 0.0;
}

}  // namespace

template <class T>
void batch_norm(const BatchNormParams& p, const T* x, const T* scale, const T* bias, const T* mean,
                const T* var, T* y) {
  for (int64_t image = 0; image < p.batch; ++image) {
    for (int64_t channel = 0; channel < p.channels; ++channel) {
      const double inv_std = 1.0 / std::sqrt(static_cast<double>(var[channel]) + p.epsilon);
      const T factor = static_cast<T>(scale[channel] * inv_std);
      const T channel_mean = mean[channel];
      const T shift = bias[channel];
      const int64_t base = (image * p.channels + channel) * p.spatial;
      for (int64_t i = 0; i < p.spatial; ++i) {
        y[base + i] = (x[base + i] - channel_mean) * factor + shift;
      }
    }
  }
}

template <class T>
void layer_norm(const LayerNormParams& p, const T* x, const T* scale, const T* bias, T* y,
                float* mean_out, float* inv_std_out) {
  for (int64_t row = 0; row < p.rows; ++row) {
    const T* x_row = x + row * p.cols;
    T* y_row = y + row * p.cols;
    double mean = 0, variance = 0;
    mean_and_variance(x_row, p.cols, mean, variance);
    const double inv_std = 1.0 / std::sqrt(variance + p.epsilon);
    if (mean_out != nullptr) mean_out[row] = static_cast<float>(mean);
    if (inv_std_out != nullptr) inv_std_out[row] = static_cast<float>(inv_std);
    const int64_t* scale_index =
        p.scale_offsets ? p.scale_offsets + row * p.scale_row_step : nullptr;
    const int64_t* bias_index = p.bias_offsets ? p.bias_offsets + row * p.bias_row_step : nullptr;
    for (int64_t col = 0; col < p.cols; ++col) {
      const double normalized = (x_row[col] - mean) * inv_std;
      const T s = scale[scale_index ? scale_index[col] : col];
      T value = static_cast<T>(normalized) * s;
      if (bias != nullptr) value += bias[bias_index ? bias_index[col] : col];
      y_row[col] = value;
    }
  }
}

template <class T>
void instance_norm(const BatchNormParams& p, const T* x, const T* scale, const T* bias, T* y) {
  for (int64_t image = 0; image < p.batch; ++image) {
    for (int64_t channel = 0; channel < p.channels; ++channel) {
      const int64_t base = (image * p.channels + channel) * p.spatial;
      double mean = 0, variance = 0;
      mean_and_variance(x + base, p.spatial, mean, variance);
      const double factor = scale[channel] / std::sqrt(variance + p.epsilon);
      const double shift = bias[channel];
      for (int64_t i = 0; i < p.spatial; ++i) {
        y[base + i] = static_cast<T>((x[base + i] - mean) * factor + shift);
      }
    }
  }
}

template <class T>
void softmax(const SoftmaxParams& p, const T* x, T* y) {
  const int64_t stride = p.inner;
  for (int64_t outer = 0; outer < p.outer; ++outer) {
    for (int64_t inner = 0; inner < p.inner; ++inner) {
      const int64_t base = outer * p.axis * p.inner + inner;
      const T* x_line = x + base;
      T* y_line = y + base;
      // Every pass reads x[i] before writing y[i], so y may alias x.
      int64_t max_index = 0;
      for (int64_t i = 1; i < p.axis; ++i) {
        if (x_line[i * stride] > x_line[max_index * stride]) max_index = i;
      }
      if (p.kind == SoftmaxKind::kHardmax) {
        for (int64_t i = 0; i < p.axis; ++i) y_line[i * stride] = T(i == max_index ? 1 : 0);
        continue;
      }
      const double max = p.axis > 0 ? static_cast<double>(x_line[max_index * stride]) : 0.0;
      double sum = 0;
      if (p.kind == SoftmaxKind::kSoftmax) {
        for (int64_t i = 0; i < p.axis; ++i) {
          const double e = std::exp(x_line[i * stride] - max);
          y_line[i * stride] = static_cast<T>(e);
          sum += e;
        }
        const double inv_sum = 1.0 / sum;
        for (int64_t i = 0; i < p.axis; ++i) {
          y_line[i * stride] = static_cast<T>(y_line[i * stride] * inv_sum);
        }
      } else {
        for (int64_t i = 0; i < p.axis; ++i) sum += std::exp(x_line[i * stride] - max);
        const double log_sum = std::log(sum);
        for (int64_t i = 0; i < p.axis; ++i) {
          y_line[i * stride] = static_cast<T>(x_line[i * stride] - max - log_sum);
        }
      }
    }
  }
}

#define QUENCH_INSTANTIATE_NORM(T)                                                              \
  template void batch_norm<T>(const BatchNormParams&, const T*, const T*, const T*, const T*,   \
                              const T*, T*);                                                    \
  template void layer_norm<T>(const LayerNormParams&, const T*, const T*, const T*, T*, float*, \
                              float*);                                                          \
  template void instance_norm<T>(const BatchNormParams&, const T*, const T*, const T*, T*);     \
  template void softmax<T>(const SoftmaxParams&, const T*, T*);
QUENCH_INSTANTIATE_NORM(float)
QUENCH_INSTANTIATE_NORM(double)
#undef QUENCH_INSTANTIATE_NORM

}  // namespace quench::ref

// BatchNormalization for training on oneDNN's primitives, over a plain row-major [N, C,
// spatial...] float tensor: the training forward (batch mean and population variance per
// channel) and the backward (dx, dγ, dβ) in training mode or frozen (the running statistics as
// constants). Primitives are made once per shape and shared (train/gradients/norm.cc calls them;
// its loops are the reference they are tested against).
#pragma once

#include <memory>

#include "quench/graph.h"

namespace quench::onednn {

class BatchNormTraining {
 public:
  // The primitives for input shape x (rank 2 to 5), epsilon, and training mode or frozen; nullptr
  // when oneDNN has no implementation.
  static std::shared_ptr<const BatchNormTraining> get(const Shape& x, float epsilon, bool frozen);

  // Training mode: y = γ (x − μ) / √(σ² + ε) + β with the batch's per-channel mean μ and variance
  // σ², written to `mean` and `variance` (C floats each).
  void forward(const float* x, const float* gamma, const float* beta, float* y, float* mean,
               float* variance) const;
  // dx, dγ and dβ (C floats each; overwritten) from dy, with the statistics the forward used: the
  // batch's in training mode, the running ones when frozen (oneDNN reads β too).
  void backward(const float* x, const float* mean, const float* variance, const float* gamma,
                const float* beta, const float* dy, float* dx, float* dgamma, float* dbeta) const;

  struct Impl;
  explicit BatchNormTraining(std::unique_ptr<Impl> impl);
  ~BatchNormTraining();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace quench::onednn

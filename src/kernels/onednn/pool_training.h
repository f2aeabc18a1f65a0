// The gradient of a float pooling (MaxPool, AveragePool, GlobalAveragePool) on oneDNN's pooling
// backward primitive, over plain row-major [N, C, spatial...] tensors. A max pooling's backward
// reads the forward's workspace (which tap won each window), so it first runs oneDNN's
// forward-training primitive on x. Primitives are made once per geometry and shared
// (train/gradients/pool.cc calls them; its loops are the reference they are tested against).
#pragma once

#include <memory>

#include "quench/graph.h"

namespace quench::onednn {

class PoolTraining {
 public:
  // The primitives for pooling `node` (MaxPool, AveragePool or GlobalAveragePool) from x to y;
  // nullptr when oneDNN cannot express its window or has no implementation.
  static std::shared_ptr<const PoolTraining> get(const Node& node, const Shape& x, const Shape& y);

  // dx = the gradient with respect to x (overwritten), from dy; x is read by max pooling only.
  void backward(const float* x, const float* dy, float* dx) const;

  struct Impl;
  explicit PoolTraining(std::unique_ptr<Impl> impl);
  ~PoolTraining();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace quench::onednn

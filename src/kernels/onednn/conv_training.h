// A float convolution for training on oneDNN's primitives: forward (training propagation),
// backward data and backward weights (with the bias), over plain row-major tensors. oneDNN picks
// each primitive's layouts (blocked where that is faster); arguments are reordered in and out of
// them. Primitives are made once per geometry and shared (training/conv.cc calls them; the
// im2col kernel in train/gradients/conv_im2col.cc is the reference they are tested against).
#pragma once

#include <memory>

#include "quench/graph.h"

namespace quench::onednn {

class ConvTraining {
 public:
  // The primitives for Conv `node` with input shape x and weight shape w (bias: whether the node
  // has one); nullptr when oneDNN has no implementation for them.
  static std::shared_ptr<const ConvTraining> get(const Node& node, const Shape& x, const Shape& w,
                                                 bool bias);

  const Shape& output_shape() const;

  // y = conv(x, w) + b (b may be null when the node has no bias).
  void forward(const float* x, const float* w, const float* b, float* y) const;
  // dx = the gradient with respect to the input, overwritten.
  void backward_data(const float* w, const float* dy, float* dx) const;
  // dw (and db when not null) = the gradients with respect to the weights and bias, overwritten.
  void backward_weights(const float* x, const float* dy, float* dw, float* db) const;

  struct Impl;
  explicit ConvTraining(std::unique_ptr<Impl> impl);
  ~ConvTraining();

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace quench::onednn

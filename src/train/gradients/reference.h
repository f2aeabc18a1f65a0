// The reference backward kernels of the families whose fast path is oneDNN's (activations,
// pooling, softmax, layer and batch norm): plain loops, the oracle the fast paths are tested
// against and the kernels where oneDNN has none (tests/unit/train_fast_kernels_test.cc). Conv's is
// conv_im2col.h.
#pragma once

#include <vector>

#include "train/gradient.h"

namespace quench::train {

// Relu, Sigmoid, Tanh, Clip, HardSwish, HardSigmoid and Erf, by ctx.node.op_type (T7).
std::vector<Tensor> activation_backward_reference(const GradContext& ctx);
// MaxPool, AveragePool and GlobalAveragePool, by ctx.node.op_type (T9).
std::vector<Tensor> pool_backward_reference(const GradContext& ctx);
// Softmax (T18).
std::vector<Tensor> softmax_backward_reference(const GradContext& ctx);
// LayerNormalization over the dims from `axis` on (T20).
std::vector<Tensor> layer_norm_backward_reference(const GradContext& ctx);
// BatchNormalization, training mode (T22) or frozen (T27) as ctx.training says.
std::vector<Tensor> batch_norm_backward_reference(const GradContext& ctx);
// Its training-mode forward (T21): batch statistics, running statistics updated.
std::vector<Tensor> batch_norm_training_forward_reference(const Node& node,
                                                          const std::vector<const Tensor*>& in,
                                                          UpdatedInputs& updated);

}  // namespace quench::train

// Softmax cross-entropy on logits [B, classes] against integer labels, averaged over the batch
// (docs/training.md (T11)): L = mean_b (logsumexp(z_b) - z_b[y_b]), dL/dz = (softmax(z) -
// onehot(y)) / B.
#pragma once

#include <vector>

#include "quench/tensor.h"

namespace quench::train {

struct LossResult {
  double loss = 0;
  Tensor grad;          // dL/dlogits
  int64_t correct = 0;  // samples whose arg-max logit is the label
};

// kInvalidArgument naming the sample for a label outside [0, classes) or a label count that is
// not the batch size.
LossResult softmax_cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels);

// Knowledge distillation (docs/quantization.md (105)-(106)): L = (1 − α)·CE(z_s, y) +
// α·T²·KL(softmax(z_t / T) ‖ softmax(z_s / T)), averaged over the batch; the gradient is with
// respect to the student logits z_s. `correct` counts the student's arg-max hits. kInvalidArgument
// when the two logit tensors differ in shape, for T <= 0 or α outside [0, 1].
LossResult distillation_loss(const Tensor& student, const Tensor& teacher,
                             const std::vector<int64_t>& labels, float temperature, float alpha);

}  // namespace quench::train

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

}  // namespace quench::train

#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "quench/error.h"

namespace quench::train {

LossResult softmax_cross_entropy(const Tensor& logits, const std::vector<int64_t>& labels) {
  if (logits.rank() != 2) {
    throw Error(ErrorKind::kInvalidArgument,
                "cross-entropy expects logits [batch, classes], got " + shape_str(logits.shape()));
  }
  const int64_t batch = logits.dim(0);
  const int64_t classes = logits.dim(1);
  if (static_cast<int64_t>(labels.size()) != batch) {
    throw Error(ErrorKind::kInvalidArgument, "cross-entropy: " + std::to_string(labels.size()) +
                                                 " labels for a batch of " + std::to_string(batch));
  }
  LossResult r;
  r.grad = Tensor::empty(DType::kFloat32, logits.shape());
  const float* z = logits.data<float>();
  float* g = r.grad.data<float>();
  double total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t label = labels[b];
    if (label < 0 || label >= classes) {
      throw Error(ErrorKind::kInvalidArgument,
                  "label " + std::to_string(label) + " of sample " + std::to_string(b) +
                      " is outside [0, " + std::to_string(classes) + ") (the model's classes)");
    }
    const float* row = z + b * classes;
    const float* top = std::max_element(row, row + classes);
    if (top - row == label) ++r.correct;
    double sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(row[c]) - *top);
    const double log_sum = std::log(sum) + *top;
    total += log_sum - row[label];
    for (int64_t c = 0; c < classes; ++c) {
      const double p = std::exp(static_cast<double>(row[c]) - log_sum);
      g[b * classes + c] = static_cast<float>((p - (c == label ? 1.0 : 0.0)) / batch);
    }
  }
  r.loss = batch > 0 ? total / batch : 0.0;
  return r;
}

}  // namespace quench::train

#include "train/loss.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

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

namespace {

// log softmax(row / T) in double.
void log_softmax(const float* row, int64_t classes, double t, std::vector<double>& out) {
  double top = row[0] / t;
  for (int64_t c = 1; c < classes; ++c) top = std::max(top, row[c] / t);
  double sum = 0;
  for (int64_t c = 0; c < classes; ++c) sum += std::exp(row[c] / t - top);
  const double log_sum = std::log(sum) + top;
  out.resize(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) out[c] = row[c] / t - log_sum;
}

}  // namespace

LossResult distillation_loss(const Tensor& student, const Tensor& teacher,
                             const std::vector<int64_t>& labels, float temperature, float alpha) {
  if (student.shape() != teacher.shape()) {
    throw Error(ErrorKind::kInvalidArgument, "distillation: student logits " +
                                                 shape_str(student.shape()) + " and teacher " +
                                                 shape_str(teacher.shape()) + " differ");
  }
  if (!(temperature > 0) || !(alpha >= 0 && alpha <= 1)) {
    throw Error(ErrorKind::kInvalidArgument,
                "distillation: the temperature must be > 0 and the weight in [0, 1], got T = " +
                    std::to_string(temperature) + ", weight " + std::to_string(alpha));
  }
  LossResult r = softmax_cross_entropy(student, labels);
  const int64_t batch = student.dim(0);
  const int64_t classes = student.dim(1);
  const double t = temperature;
  std::vector<double> ls, lt;
  double kl = 0;
  float* g = r.grad.data<float>();
  for (int64_t b = 0; b < batch; ++b) {
    log_softmax(student.data<float>() + b * classes, classes, t, ls);
    log_softmax(teacher.data<float>() + b * classes, classes, t, lt);
    for (int64_t c = 0; c < classes; ++c) {
      const double pt = std::exp(lt[c]);
      kl += pt * (lt[c] - ls[c]);
      // (106) d/dz_s of α·T²·KL / B = α·T·(p_s − p_t) / B; the CE part scaled by (1 − α).
      const double dkd = alpha * t * (std::exp(ls[c]) - pt) / static_cast<double>(batch);
      g[b * classes + c] = static_cast<float>((1.0 - alpha) * g[b * classes + c] + dkd);
    }
  }
  const double kd = batch > 0 ? t * t * kl / static_cast<double>(batch) : 0.0;
  r.loss = (1.0 - alpha) * r.loss + alpha * kd;  // (105)
  return r;
}

}  // namespace quench::train

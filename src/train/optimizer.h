// Optimizers over the tape's parameters (docs/training.md (T12)-(T13)) and learning-rate
// schedules ((T14)-(T15)).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "quench/tensor.h"

namespace quench::train {

struct OptimizerOptions {
  std::string kind = "sgd";  // "sgd" or "adamw"
  float momentum = 0.9f;     // SGD
  bool nesterov = false;     // SGD
  float weight_decay = 0.0f;
  float beta1 = 0.9f;  // AdamW
  float beta2 = 0.999f;
  float epsilon = 1e-8f;
};

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // One update of every parameter with its gradient at learning rate `lr`.
  virtual void step(std::map<std::string, Tensor>& parameters,
                    const std::map<std::string, Tensor>& grads, float lr) = 0;
  // The optimizer's state (momentum, moments, step count) as tensors named `prefix` + "...", for
  // checkpoints.
  virtual void save_state(const std::string& prefix, std::map<std::string, Tensor>& out) const = 0;
  // Restores what save_state() wrote; kIo naming the tensor when one does not match its parameter
  // in `parameters`.
  virtual void load_state(const std::string& prefix, const std::map<std::string, Tensor>& in,
                          const std::map<std::string, Tensor>& parameters) = 0;
};

// kInvalidArgument for an unknown kind or an out-of-range hyper-parameter.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options);

struct ScheduleOptions {
  std::string kind = "cosine";  // "cosine" (with linear warm-up), "step" or "constant"
  int64_t total_steps = 1;
  int64_t warmup_steps = 0;  // cosine
  int64_t step_size = 1;     // step: the rate is multiplied by `gamma` every step_size steps
  float gamma = 0.1f;
};

// The learning rate of step `step` (0-based) for base rate `base`.
float learning_rate(const ScheduleOptions& s, float base, int64_t step);
void check_schedule(const ScheduleOptions& s);

}  // namespace quench::train

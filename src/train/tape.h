// The training tape over the graph IR: runs the forward pass keeping every value backward needs,
// then reverse-mode backward from one output, summing the gradients of values used more than
// once (fan-out). The tape owns the trainable parameters and feeds them to the kernels as run-time
// inputs at each step, so nothing derived from them outlives a step.
#pragma once

#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "quench/graph.h"

namespace quench::train {

class Tape {
 public:
  // `parameters`: the float initializers to train (their current values are copied). Throws
  // kUnsupported naming the node and op when a node between a parameter and the outputs has no
  // gradient, kInvalidArgument for a parameter that is not a float32 initializer.
  Tape(const Graph& graph, const std::vector<std::string>& parameters);

  // Runs every node; `feeds` maps each graph input to its tensor. `training`: ops that behave
  // differently in training use that behaviour (batch norms: batch statistics, and their running
  // statistics updated in buffers()).
  void forward(const std::map<std::string, Tensor>& feeds, bool training = true);
  // Frozen batch norms: even in training, BatchNormalization uses its running statistics and
  // does not update them (docs/training.md (T27)); backward follows.
  void set_batch_norm_frozen(bool frozen) { batch_norm_frozen_ = frozen; }
  // The value computed by the last forward().
  const Tensor& value(const std::string& name) const;

  // Backward from `output` with dLoss/d(output) = `grad`; returns dLoss/d(parameter) for every
  // parameter (zeros where no gradient reaches it).
  std::map<std::string, Tensor> backward(const std::string& output, const Tensor& grad);

  std::map<std::string, Tensor>& parameters() { return parameters_; }
  const std::map<std::string, Tensor>& parameters() const { return parameters_; }
  // Non-trained state the forward pass updates: the running statistics of batch norms.
  std::map<std::string, Tensor>& buffers() { return buffers_; }
  const std::map<std::string, Tensor>& buffers() const { return buffers_; }
  const Graph& graph() const { return graph_; }

 private:
  Graph graph_;
  int64_t opset_ = 0;
  std::map<std::string, Tensor> parameters_;
  std::map<std::string, Tensor> buffers_;
  std::unordered_map<std::string, Tensor> values_;
  // Per node: whether any of its inputs depends on a parameter.
  std::vector<bool> differentiable_;
  std::unordered_map<std::string, bool> depends_on_parameter_;
  bool batch_norm_frozen_ = false;
  bool last_training_ = true;  // the `training` of the last forward()

  bool trains(const Node& node, bool training) const {
    return training && !(batch_norm_frozen_ && node.op_type == "BatchNormalization");
  }
};

// The float initializers a model trains by default: every float32 initializer of rank >= 1 that
// feeds a node whose gradient registry entry treats that input as differentiable.
std::vector<std::string> default_parameters(const Graph& graph);

}  // namespace quench::train

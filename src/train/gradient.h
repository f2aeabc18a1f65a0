// Gradients by op type: each differentiable op family registers, in train/gradients/<family>.cc,
// a backward function (and, where a faster one exists, a forward one) that the tape calls.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "quench/graph.h"

namespace quench::train {

// What a backward function sees: the node, its forward inputs and outputs (nullptr for an absent
// optional input) and the gradient of the loss with respect to each output (an undefined Tensor
// where no gradient flows). `needs_input[i]` is false where the input's gradient is not wanted
// (data, constants), so that the function may skip computing it.
struct GradContext {
  const Node& node;
  std::vector<const Tensor*> inputs;
  std::vector<const Tensor*> outputs;
  std::vector<Tensor> output_grads;
  std::vector<bool> needs_input;
  int64_t opset = 0;  // of the default domain
  // Whether the forward pass used the op's training behaviour (false: inference, or a frozen
  // batch norm), so that the gradient follows the same function.
  bool training = true;

  bool needs(size_t i) const { return i < needs_input.size() && needs_input[i]; }
  const Tensor& input(size_t i) const;  // kInvalidModel naming the node when absent
};

// Returns one gradient per input (undefined where none flows or none was needed), each of the
// input's shape.
using BackwardFn = std::function<std::vector<Tensor>(const GradContext&)>;
// Computes the outputs of the node from its inputs (as evaluate_node does, faster); an empty
// result where it does not handle the node's types or attributes (the tape then runs the
// reference, evaluate_node).
using ForwardFn =
    std::function<std::vector<Tensor>(const Node&, const std::vector<const Tensor*>&)>;

// The forward pass of an op that behaves differently in training (BatchNormalization: batch
// statistics); it may return new values for some of its inputs (running statistics), which the
// tape keeps as state.
using UpdatedInputs = std::vector<std::pair<size_t, Tensor>>;
using TrainingForwardFn = std::function<std::vector<Tensor>(
    const Node&, const std::vector<const Tensor*>&, UpdatedInputs& updated)>;

struct GradientDef {
  GradientDef(BackwardFn b, ForwardFn f = {}, std::vector<int> non_differentiable = {},
              TrainingForwardFn training = {})
      : backward(std::move(b)),
        forward(std::move(f)),
        non_differentiable_inputs(std::move(non_differentiable)),
        training_forward(std::move(training)) {}

  BackwardFn backward;
  ForwardFn forward;  // empty: the tape runs the reference kernel (evaluate_node)
  // Inputs through which no gradient flows whatever the graph (shape tensors, indices).
  std::vector<int> non_differentiable_inputs;
  TrainingForwardFn training_forward;  // empty: `forward` in training too
};

// The definition for `op_type` in the default domain, or nullptr when the op has no gradient.
const GradientDef* find_gradient(const std::string& op_type);
// The definition for `node`: its op in the default domain, or a quench-internal op that training
// inserts (FakeQuantize); nullptr for any other domain.
const GradientDef* find_gradient(const Node& node);

// Ops whose outputs do not depend differentiably on any input (Constant, Shape): the tape treats
// their outputs as constants.
bool is_constant_op(const std::string& op_type);

// Registration (train/gradients/<family>.cc), called once by find_gradient().
using GradientTable = std::vector<std::pair<std::string, GradientDef>>;
void register_conv_gradients(GradientTable& t);
void register_linalg_gradients(GradientTable& t);
void register_activation_gradients(GradientTable& t);
void register_elementwise_gradients(GradientTable& t);
void register_pool_gradients(GradientTable& t);
void register_shape_gradients(GradientTable& t);
void register_tensor_gradients(GradientTable& t);
void register_softmax_gradients(GradientTable& t);
void register_reduce_gradients(GradientTable& t);
void register_norm_gradients(GradientTable& t);
// quench.internal ops (train/qat/fake_quantize.cc).
namespace qat {
void register_fake_quantize_gradient(GradientTable& t);
}

}  // namespace quench::train

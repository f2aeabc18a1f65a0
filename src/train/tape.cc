#include "train/tape.h"

#include <algorithm>
#include <set>

#include "ops/evaluate.h"
#include "quench/error.h"
#include "quench/interrupt.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

bool input_differentiable(const GradientDef* def, int i) {
  if (def == nullptr) return true;
  const auto& skip = def->non_differentiable_inputs;
  return std::find(skip.begin(), skip.end(), i) == skip.end();
}

}  // namespace

std::vector<std::string> default_parameters(const Graph& graph) {
  std::set<std::string> chosen;
  for (const Node& node : graph.nodes) {
    if (!node.domain.empty() || is_constant_op(node.op_type)) continue;
    const GradientDef* def = find_gradient(node.op_type);
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const Tensor* init = graph.initializer(node.inputs[i]);
      if (init == nullptr || init->dtype() != DType::kFloat32 || init->rank() == 0) continue;
      if (def != nullptr && !input_differentiable(def, static_cast<int>(i))) continue;
      // Constant operands of the input normalisation (Sub/Div by a scalar) are rank 0 or
      // broadcast scalars; trainable tensors are the weights of the layers.
      if (init->numel() == 1 && node.op_type != "Conv" && node.op_type != "Gemm") continue;
      chosen.insert(node.inputs[i]);
    }
  }
  return {chosen.begin(), chosen.end()};
}

Tape::Tape(const Graph& graph, const std::vector<std::string>& parameters)
    : graph_(graph), opset_(graph.opset("")) {
  for (const std::string& name : parameters) {
    const Tensor* init = graph_.initializer(name);
    if (init == nullptr || init->dtype() != DType::kFloat32) {
      throw Error(ErrorKind::kInvalidArgument,
                  "parameter '" + name + "' is not a float32 initializer of the model");
    }
    parameters_[name] = init->clone();
    depends_on_parameter_[name] = true;
  }
  for (const Node& node : graph_.nodes) {
    if (node.op_type != "BatchNormalization" || !node.domain.empty()) continue;
    for (size_t i = 3; i < node.inputs.size() && i <= 4; ++i) {
      const Tensor* init = graph_.initializer(node.inputs[i]);
      if (init != nullptr && init->dtype() == DType::kFloat32) {
        buffers_[node.inputs[i]] = init->clone();
      }
    }
  }
  differentiable_.assign(graph_.nodes.size(), false);
  for (size_t n = 0; n < graph_.nodes.size(); ++n) {
    const Node& node = graph_.nodes[n];
    if (is_constant_op(node.op_type)) continue;
    const GradientDef* def = find_gradient(node);
    bool any = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (node.inputs[i].empty() || !depends_on_parameter_.count(node.inputs[i])) continue;
      if (!input_differentiable(def, static_cast<int>(i))) continue;
      any = true;
    }
    if (!any) continue;
    if (def == nullptr) {
      throw Error(ErrorKind::kUnsupported,
                  node.describe() + ": op '" + node.op_type +
                      "' has no gradient in quench, and trainable parameters flow through it");
    }
    differentiable_[n] = true;
    for (const std::string& out : node.outputs) {
      if (!out.empty()) depends_on_parameter_[out] = true;
    }
  }
}

void Tape::forward(const std::map<std::string, Tensor>& feeds, bool training) {
  values_.clear();
  last_training_ = training;
  for (const auto& [name, t] : graph_.initializers) values_[name] = t;
  for (const auto& [name, t] : buffers_) values_[name] = t;
  for (const auto& [name, t] : parameters_) values_[name] = t;
  for (const std::string& in : graph_.inputs) {
    if (graph_.is_initializer(in)) continue;
    auto it = feeds.find(in);
    if (it == feeds.end()) {
      throw Error(ErrorKind::kInvalidArgument, "no tensor fed for graph input '" + in + "'");
    }
    values_[in] = it->second;
  }
  std::vector<const Tensor*> inputs;
  for (const Node& node : graph_.nodes) {
    inputs.clear();
    for (const std::string& name : node.inputs) {
      if (name.empty()) {
        inputs.push_back(nullptr);
        continue;
      }
      auto it = values_.find(name);
      if (it == values_.end()) {
        throw Error(ErrorKind::kInvalidModel,
                    node.describe() + ": input '" + name + "' is not computed before it");
      }
      inputs.push_back(&it->second);
    }
    const GradientDef* def = find_gradient(node);
    std::vector<Tensor> outputs;
    if (trains(node, training) && def != nullptr && def->training_forward) {
      UpdatedInputs updated;
      outputs = def->training_forward(node, inputs, updated);
      for (auto& [i, t] : updated) {
        auto it = buffers_.find(node.inputs.at(i));
        if (it != buffers_.end()) it->second = std::move(t);
      }
    } else if (def != nullptr && def->forward) {
      outputs = def->forward(node, inputs);
    }
    if (outputs.empty()) outputs = evaluate_node(node, opset_, inputs);
    for (size_t i = 0; i < node.outputs.size() && i < outputs.size(); ++i) {
      if (!node.outputs[i].empty()) values_[node.outputs[i]] = std::move(outputs[i]);
    }
  }
}

const Tensor& Tape::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) {
    throw Error(ErrorKind::kInvalidArgument, "value '" + name + "' was not computed");
  }
  return it->second;
}

std::map<std::string, Tensor> Tape::backward(const std::string& output, const Tensor& grad) {
  const Tensor& out_value = value(output);
  if (grad.shape() != out_value.shape() || grad.dtype() != DType::kFloat32) {
    throw Error(ErrorKind::kInvalidArgument, "gradient of '" + output + "' has shape " +
                                                 shape_str(grad.shape()) + ", expected " +
                                                 shape_str(out_value.shape()));
  }
  std::unordered_map<std::string, Tensor> grads;
  grads[output] = grad.clone();
  for (size_t n = graph_.nodes.size(); n-- > 0;) {
    if (!differentiable_[n]) continue;
    const Node& node = graph_.nodes[n];
    bool any_grad = false;
    std::vector<Tensor> out_grads;
    std::vector<const Tensor*> outs;
    for (const std::string& name : node.outputs) {
      auto it = name.empty() ? grads.end() : grads.find(name);
      if (it != grads.end()) {
        any_grad = true;
        out_grads.push_back(it->second);
      } else {
        out_grads.emplace_back();
      }
      outs.push_back(name.empty() ? nullptr : &values_.at(name));
    }
    if (!any_grad) continue;
    if (interrupted()) throw Error(ErrorKind::kInterrupted, "interrupted");
    const GradientDef* def = find_gradient(node);
    GradContext ctx{node, {}, outs, std::move(out_grads), {}, opset_, trains(node, last_training_)};
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& name = node.inputs[i];
      ctx.inputs.push_back(name.empty() ? nullptr : &values_.at(name));
      ctx.needs_input.push_back(!name.empty() && depends_on_parameter_.count(name) != 0 &&
                                input_differentiable(def, static_cast<int>(i)));
    }
    std::vector<Tensor> in_grads = def->backward(ctx);
    for (size_t i = 0; i < node.inputs.size() && i < in_grads.size(); ++i) {
      if (!ctx.needs(i) || !in_grads[i].defined()) continue;
      if (in_grads[i].shape() != ctx.inputs[i]->shape()) {
        throw Error(ErrorKind::kInternal, node.describe() + ": gradient of input " +
                                              std::to_string(i) + " has shape " +
                                              shape_str(in_grads[i].shape()) + ", expected " +
                                              shape_str(ctx.inputs[i]->shape()));
      }
      auto it = grads.find(node.inputs[i]);
      if (it == grads.end()) {
        grads.emplace(node.inputs[i], std::move(in_grads[i]));
      } else {
        // A stored gradient may share its storage with another (a Reshape's or an Add's passes
        // the same tensor on): sum into a copy.
        it->second = it->second.clone();
        add_into(it->second, in_grads[i]);  // fan-out: the gradients of all uses add up
      }
    }
    // Gradients of this node's outputs are no longer needed.
    for (const std::string& name : node.outputs) {
      if (name != output) grads.erase(name);
    }
  }
  std::map<std::string, Tensor> result;
  for (const auto& [name, p] : parameters_) {
    auto it = grads.find(name);
    result[name] = it != grads.end() ? it->second : Tensor::zeros(DType::kFloat32, p.shape());
  }
  return result;
}

}  // namespace quench::train

#include "train/gradient.h"

#include <unordered_map>

#include "ops/domains.h"
#include "quench/error.h"

namespace quench::train {

const Tensor& GradContext::input(size_t i) const {
  if (i >= inputs.size() || inputs[i] == nullptr) {
    throw Error(ErrorKind::kInvalidModel,
                node.describe() + ": input " + std::to_string(i) + " is required for its gradient");
  }
  return *inputs[i];
}

namespace {

std::unordered_map<std::string, GradientDef> build_table() {
  GradientTable t;
  register_conv_gradients(t);
  register_linalg_gradients(t);
  register_activation_gradients(t);
  register_elementwise_gradients(t);
  register_pool_gradients(t);
  register_shape_gradients(t);
  register_tensor_gradients(t);
  register_softmax_gradients(t);
  register_reduce_gradients(t);
  register_norm_gradients(t);
  std::unordered_map<std::string, GradientDef> table;
  for (auto& [op, def] : t) table.emplace(op, std::move(def));
  return table;
}

std::unordered_map<std::string, GradientDef> build_internal_table() {
  GradientTable t;
  qat::register_fake_quantize_gradient(t);
  std::unordered_map<std::string, GradientDef> table;
  for (auto& [op, def] : t) table.emplace(op, std::move(def));
  return table;
}

}  // namespace

const GradientDef* find_gradient(const Node& node) {
  if (node.domain.empty()) return find_gradient(node.op_type);
  if (node.domain != kInternalDomain) return nullptr;
  static const std::unordered_map<std::string, GradientDef> table = build_internal_table();
  auto it = table.find(node.op_type);
  return it == table.end() ? nullptr : &it->second;
}

const GradientDef* find_gradient(const std::string& op_type) {
  static const std::unordered_map<std::string, GradientDef> table = build_table();
  auto it = table.find(op_type);
  return it == table.end() ? nullptr : &it->second;
}

bool is_constant_op(const std::string& op_type) {
  return op_type == "Constant" || op_type == "Shape" || op_type == "Size" ||
         op_type == "ConstantOfShape";
}

}  // namespace quench::train

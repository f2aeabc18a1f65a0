#include "ops/op_registry.h"

#include <algorithm>

#include "core/check.h"
#include "ops/register.h"

namespace quench {

const ValueInfo& InferContext::input(size_t i) const {
  if (!has_input(i)) fail("input {} is required but absent", i);
  return *inputs_[i];
}

const SymbolicShape* InferContext::input_shape(size_t i) const {
  const ValueInfo& info = input(i);
  return info.shape ? &*info.shape : nullptr;
}

const TensorDesc& KernelContext::input(size_t i) const {
  if (!has_input(i)) fail(ErrorKind::kInvalidModel, "input {} is required but absent", i);
  return inputs[i];
}

std::string OpRegistry::key(std::string_view domain, std::string_view op_type) {
  std::string d(domain == "ai.onnx" ? "" : domain);
  return d + "::" + std::string(op_type);
}

void OpRegistry::add(OpDef def) {
  std::string k = key(def.domain, def.op_type);
  QUENCH_CHECK(defs_.count(k) == 0, ErrorKind::kInternal, "op {} registered twice", k);
  defs_.emplace(std::move(k), std::move(def));
}

void OpRegistry::add_fast(std::string_view domain, std::string_view op_type, FastKernel kernel) {
  auto it = defs_.find(key(domain, op_type));
  QUENCH_CHECK(it != defs_.end(), ErrorKind::kInternal,
               "fast kernel '{}' registered for unknown op {}", kernel.name, op_type);
  it->second.fast.push_back(std::move(kernel));
}

const OpDef* OpRegistry::find(std::string_view domain, std::string_view op_type) const {
  auto it = defs_.find(key(domain, op_type));
  return it == defs_.end() ? nullptr : &it->second;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::vector<const OpDef*> out;
  for (const auto& [_, def] : defs_) out.push_back(&def);
  std::sort(out.begin(), out.end(), [](const OpDef* a, const OpDef* b) {
    return std::tie(a->domain, a->op_type) < std::tie(b->domain, b->op_type);
  });
  return out;
}

const OpRegistry& op_registry() {
  static const OpRegistry registry = [] {
    OpRegistry r;
    register_builtin_ops(r);
    return r;
  }();
  return registry;
}

std::string unsupported_reason(const Node& node, const Graph& graph) {
  const OpDef* def = op_registry().find(node.domain, node.op_type);
  const std::string domain = node.domain.empty() ? "ai.onnx" : node.domain;
  if (def == nullptr) {
    return fmt::format("op {} (domain {}) is not supported", node.op_type, domain);
  }
  const int64_t version = graph.opset(node.domain);
  if (version != 0 && version < def->min_opset) {
    return fmt::format("op {} is supported from opset {} of domain {}; the model imports opset {}",
                       node.op_type, def->min_opset, domain, version);
  }
  return "";
}

}  // namespace quench

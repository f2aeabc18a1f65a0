#include "ops/activation.h"

#include <limits>

#include "core/check.h"
#include "ops/fused.h"

namespace quench {
namespace {

struct Named {
  const char* name;
  ActKind kind;
};
constexpr Named kNames[] = {{"None", ActKind::kNone},
                            {"Relu", ActKind::kRelu},
                            {"LeakyRelu", ActKind::kLeakyRelu},
                            {"Clip", ActKind::kClip},
                            {"Sigmoid", ActKind::kSigmoid},
                            {"Tanh", ActKind::kTanh},
                            {"HardSigmoid", ActKind::kHardSigmoid},
                            {"HardSwish", ActKind::kHardSwish},
                            {"Gelu", ActKind::kGeluErf},
                            {"Swish", ActKind::kSwish}};

// A scalar float constant input of `node`, or `fallback` when the input is absent.
std::optional<float> scalar_input(const Node& node, size_t i, const Graph& graph, float fallback) {
  if (!node.has_input(i)) return fallback;
  const Tensor* t = graph.initializer(node.input(i));
  if (t == nullptr || t->numel() != 1 || t->dtype() != DType::kFloat32) return std::nullopt;
  return t->data<float>()[0];
}

}  // namespace

std::optional<Activation> Activation::from_node(const Node& node, const Graph& graph) {
  if (node.domain == kInternalDomain && node.op_type == "Gelu")
    return Activation{ActKind::kGeluErf};
  if (node.domain == kInternalDomain && node.op_type == "Swish") return Activation{ActKind::kSwish};
  if (!node.domain.empty()) return std::nullopt;
  const std::string& op = node.op_type;
  if (op == "Relu") return Activation{ActKind::kRelu};
  if (op == "Sigmoid") return Activation{ActKind::kSigmoid};
  if (op == "Tanh") return Activation{ActKind::kTanh};
  if (op == "HardSwish") return Activation{ActKind::kHardSwish};
  if (op == "LeakyRelu") return Activation{ActKind::kLeakyRelu, node.attr_float("alpha", 0.01f)};
  if (op == "HardSigmoid") {
    return Activation{ActKind::kHardSigmoid, node.attr_float("alpha", 0.2f),
                      node.attr_float("beta", 0.5f)};
  }
  if (op == "Clip") {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (graph.opset("") < 11) {
      return Activation{ActKind::kClip, node.attr_float("min", -kInf),
                        node.attr_float("max", kInf)};
    }
    auto lo = scalar_input(node, 1, graph, -kInf);
    auto hi = scalar_input(node, 2, graph, kInf);
    if (!lo || !hi) return std::nullopt;
    return Activation{ActKind::kClip, *lo, *hi};
  }
  return std::nullopt;
}

void Activation::to_attributes(Node& fused) const {
  fused.set_attr("activation", name());
  fused.set_attr("activation_alpha", alpha);
  fused.set_attr("activation_beta", beta);
}

Activation Activation::from_attributes(const Node& fused) {
  const std::string n = fused.attr_string("activation", "None");
  for (const Named& entry : kNames) {
    if (n == entry.name) {
      return Activation{entry.kind, fused.attr_float("activation_alpha", 0.f),
                        fused.attr_float("activation_beta", 0.f)};
    }
  }
  fail(ErrorKind::kInvalidModel, "{}: unknown fused activation '{}'", fused.describe(), n);
}

std::string Activation::name() const {
  for (const Named& entry : kNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "None";
}

}  // namespace quench

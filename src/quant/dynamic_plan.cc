#include "quant/dynamic_plan.h"

#include <fmt/format.h>

namespace quench::quant {
namespace {

bool is_recurrent(const std::string& op) { return op == "LSTM" || op == "GRU"; }

bool float_constant(const Graph& g, const std::string& value) {
  const Tensor* t = g.initializer(value);
  return t != nullptr && t->dtype() == DType::kFloat32;
}

// Why weight input `index` of `node` (expected rank `rank`) cannot be stored as int8.
std::string weight_problem(const Graph& g, const Node& node, size_t index, const char* what,
                           int rank) {
  if (!node.has_input(index) || !g.is_initializer(node.input(index))) {
    return fmt::format("{} is not constant", what);
  }
  const Tensor& t = *g.initializer(node.input(index));
  if (t.dtype() != DType::kFloat32) {
    return fmt::format("{} is {}, expected float", what, dtype_name(t.dtype()));
  }
  if (t.rank() != rank) return fmt::format("{} has rank {}, expected {}", what, t.rank(), rank);
  return "";
}

}  // namespace

bool has_constant_weight(const Graph& g, const Node& node) {
  const std::string& op = node.op_type;
  const bool layer = op == "MatMul" || op == "Gemm" || op == "Conv" || is_recurrent(op);
  return layer && node.domain.empty() && float_constant(g, node.input(1));
}

std::string dynamic_support(const Graph& g, const Node& node) {
  const std::string& op = node.op_type;
  if (op == "MatMul") {
    if (!g.is_initializer(node.input(1))) return "both operands computed at run time";
    return weight_problem(g, node, 1, "B", 2);
  }
  if (op == "Gemm") {
    if (node.attr_int("transA", 0) != 0) return "transA = 1 (MatMulInteger reads A as [M, K])";
    return weight_problem(g, node, 1, "B", 2);
  }
  if (op == "Conv") {
    const Tensor* w = g.initializer(node.input(1));
    if (w == nullptr || w->dtype() != DType::kFloat32 || w->rank() < 3) {
      return "W is not a float constant of rank 3 or more";
    }
    if (node.has_input(2) && !float_constant(g, node.input(2))) return "B is not a float constant";
    return "";
  }
  if (is_recurrent(op)) {
    for (auto [index, what] : {std::pair{size_t{1}, "W"}, std::pair{size_t{2}, "R"}}) {
      std::string problem = weight_problem(g, node, index, what, 3);
      if (!problem.empty()) return problem;
    }
    if (op == "LSTM" && node.attr_int("layout", 0) != 0) {
      return "layout = 1 (batch-major); DynamicQuantizeLSTM is sequence-major only";
    }
    return "";
  }
  return fmt::format("{} has no dynamically quantized form", op);
}

NodeQuant dynamic_weights(const Node& node) {
  NodeQuant nq;
  const std::string& op = node.op_type;
  if (op == "MatMul") {
    nq.weights.push_back({1, 1});
  } else if (op == "Gemm") {
    nq.weights.push_back({1, node.attr_int("transB", 0) != 0 ? 0 : 1});
  } else if (op == "Conv") {
    nq.weights.push_back({1, 0});
  } else if (is_recurrent(op)) {
    nq.weights.push_back({1, 1});
    nq.weights.push_back({2, 1});
  }
  return nq;
}

std::string dynamic_description(const Node& node, bool per_channel) {
  const std::string& op = node.op_type;
  const char* weights = per_channel ? "int8 per-channel weights" : "int8 per-tensor weights";
  if (op == "LSTM") {
    return fmt::format("{}, DynamicQuantizeLSTM (inputs and state quantized at run time)",
                       per_channel ? "int8 per-gate-row weights" : "int8 per-direction weights");
  }
  if (op == "GRU") return fmt::format("{}, weight only (float GRU)", weights);
  const char* product = op == "Conv" ? "ConvInteger" : "MatMulInteger";
  return fmt::format("{}, activations quantized at run time ({})", weights, product);
}

}  // namespace quench::quant

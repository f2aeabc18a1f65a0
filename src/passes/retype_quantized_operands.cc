// An element-wise Mul whose two dequantized operands and quantized result are not all of one
// 8-bit type (NNCF: a squeeze-excite Mul of an int8 activation by a uint8 sigmoid, written to
// int8) cannot be com.microsoft QLinearMul, which takes one type. A uint8 value and the int8
// value 128 below it dequantize alike with zero points 128 apart (eq. (151)): s·(q − z) =
// s·((q − 128) − (z − 128)). So an operand of the other type, made by a QuantizeLinear whose
// result only DequantizeLinear nodes read, is retyped at its source: the QuantizeLinear and those
// DequantizeLinear nodes get the shifted zero point of the result's type, and every reader sees
// the same real values.
#include <vector>

#include "ir/graph_index.h"
#include "quench/dtype.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_op(const Node& node, const char* op_type) {
  return node.domain.empty() && node.op_type == op_type;
}

bool is_8bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

// The 8-bit type of quantized value `v`, or kUndefined.
DType type_of(const Graph& g, const std::string& v) {
  const ValueInfo* info = g.info(v);
  return info && is_8bit(info->dtype) ? info->dtype : DType::kUndefined;
}

// The zero point of a QuantizeLinear / DequantizeLinear as an initializer of its type, or
// nullptr when it is not constant ("" input: zeros of uint8).
const Tensor* zero_point(const Graph& g, const Node& node) {
  return node.has_input(2) ? g.initializer(node.input(2)) : nullptr;
}

// Retypes quantized value `v` (made by QuantizeLinear node `q`, read only by DequantizeLinear
// nodes with q's parameters) to `to`. False, with the graph unchanged, when it cannot.
bool retype(Graph& g, const GraphIndex& index, int q, const std::string v, DType to) {
  const Node& quantize = g.nodes[q];
  if (index.is_graph_output(v) || !g.is_initializer(quantize.input(1)) ||
      quantize.attr_int("output_dtype", 0) != 0) {
    return false;
  }
  const Tensor* z = zero_point(g, quantize);
  if (quantize.has_input(2) && z == nullptr) return false;
  const std::vector<int>& readers = index.consumers(v);
  for (int r : readers) {
    const Node& dq = g.nodes[r];
    if (!is_op(dq, "DequantizeLinear") || dq.input(0) != v || dq.input(1) != quantize.input(1) ||
        (dq.has_input(2) ? dq.input(2) : "") != (quantize.has_input(2) ? quantize.input(2) : "") ||
        dq.attr_int("axis", 1) != quantize.attr_int("axis", 1)) {
      return false;
    }
  }
  // Eq. (151): z' = z ∓ 128 in the other type, of the scale's shape when there was none.
  const Tensor& scale = *g.initializer(quantize.input(1));
  const int shift = to == DType::kInt8 ? -128 : 128;
  std::vector<int32_t> shifted(static_cast<size_t>(scale.numel()), shift);
  if (z != nullptr) {
    if (z->numel() != scale.numel() || !is_8bit(z->dtype())) return false;
    const std::vector<double> values = z->to_double_vector();
    for (size_t i = 0; i < shifted.size(); ++i)
      shifted[i] = static_cast<int32_t>(values[i]) + shift;
  }
  Tensor zero = to == DType::kInt8
                    ? Tensor::from_vector<int8_t>(
                          scale.shape(), std::vector<int8_t>(shifted.begin(), shifted.end()))
                    : Tensor::from_vector<uint8_t>(
                          scale.shape(), std::vector<uint8_t>(shifted.begin(), shifted.end()));
  const std::string name = g.unique_name(v + "_zero_point_" + std::string(dtype_name(to)));
  g.info_mut(name) = ValueInfo{to, symbolic(scale.shape()), ""};
  g.initializers[name] = std::move(zero);
  auto set_zero_point = [&](Node& node) {
    if (node.inputs.size() < 3) node.inputs.resize(3);
    node.inputs[2] = name;
  };
  set_zero_point(g.nodes[q]);
  for (int r : readers) set_zero_point(g.nodes[r]);
  g.info_mut(v).dtype = to;
  return true;
}

}  // namespace

int retype_quantized_operands(Graph& g) {
  int retyped = 0;
  const GraphIndex index(g);
  for (const Node& mul : g.nodes) {
    if (!is_op(mul, "Mul") || mul.inputs.size() != 2 || !index.single_use(mul.outputs[0])) continue;
    const Node& q = g.nodes[index.consumers(mul.outputs[0])[0]];
    if (!is_op(q, "QuantizeLinear")) continue;
    const DType y = type_of(g, q.outputs[0]);
    for (const std::string& operand : mul.inputs) {
      const int dq = index.producer(operand);
      if (dq < 0 || !is_op(g.nodes[dq], "DequantizeLinear")) continue;
      const std::string v = g.nodes[dq].input(0);  // a copy: retype() resizes inputs
      const DType t = type_of(g, v);
      const int source = index.producer(v);
      if (y == DType::kUndefined || t == DType::kUndefined || t == y || source < 0 ||
          !is_op(g.nodes[source], "QuantizeLinear")) {
        continue;
      }
      if (retype(g, index, source, v, y)) ++retyped;
    }
  }
  return retyped;
}

}  // namespace quench

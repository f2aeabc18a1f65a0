// DequantizeLinear moved below ops that commute with it, for QDQ files whose quantizer leaves no
// QuantizeLinear after such an op (NNCF: DQ -> MaxPool -> Conv and Add; DQ -> Flatten -> Gemm).
// With a per-tensor scale s > 0 and zero point z, dequantization x -> s(x - z) is increasing and
// elementwise, so it commutes with MaxPool and with every op that only moves or selects elements
// (eq. (132)): op(DQ(x)) = DQ(op(x)). The op then runs on the 8-bit data and its readers see a
// DequantizeLinear, which the lowering can match. An op whose result is quantized again (DQ -> op
// -> Q, the form of other tools' files) is left to the lowering's own same-parameters rule.
#include <set>
#include <unordered_map>
#include <vector>

#include "ir/graph_index.h"
#include "quench/passes.h"

namespace quench {
namespace {

bool is_op(const Node& node, const char* op_type) {
  return node.domain.empty() && node.op_type == op_type;
}

// Ops whose input 0 may be dequantized after them instead of before (eq. (132)).
bool commutes_with_dequantize(const Node& node) {
  static const std::set<std::string> ops = {"MaxPool", "Flatten",   "Reshape", "Transpose",
                                            "Squeeze", "Unsqueeze", "Identity"};
  // MaxPool's optional second output (indices) would be the same, but keep the rule simple.
  return node.domain.empty() && ops.count(node.op_type) && node.outputs.size() == 1;
}

// A DequantizeLinear with constant scalar scale (> 0) and zero point.
bool per_tensor_dequantize(const Graph& g, const Node& dq) {
  if (!is_op(dq, "DequantizeLinear") || dq.inputs.size() < 2) return false;
  const Tensor* scale = g.initializer(dq.input(1));
  if (scale == nullptr || scale->numel() != 1 || scale->dtype() != DType::kFloat32) return false;
  if (!(scale->data<float>()[0] > 0)) return false;
  if (dq.inputs.size() > 2 && !dq.input(2).empty()) {
    const Tensor* zero = g.initializer(dq.input(2));
    if (zero == nullptr || zero->numel() != 1) return false;
  }
  const ValueInfo* in = g.info(dq.input(0));
  return in && (in->dtype == DType::kInt8 || in->dtype == DType::kUInt8);
}

}  // namespace

int sink_dequantize(Graph& g) {
  const GraphIndex index(g);  // readers of a value keep their names through the rewrite
  std::vector<Node> out;
  out.reserve(g.nodes.size());
  std::unordered_map<std::string, size_t> producer;  // value -> its node in `out`
  int moved = 0;
  for (Node& op : g.nodes) {
    const auto dq = op.inputs.empty() ? producer.end() : producer.find(op.input(0));
    bool sink = commutes_with_dequantize(op) && dq != producer.end() &&
                per_tensor_dequantize(g, out[dq->second]);
    for (size_t i = 0; sink && i < op.outputs.size(); ++i) {
      for (int reader : index.consumers(op.outputs[i])) {
        sink = sink && !is_op(g.nodes[reader], "QuantizeLinear");
      }
    }
    if (!sink) {
      for (const std::string& v : op.outputs) producer[v] = out.size();
      out.push_back(std::move(op));
      continue;
    }
    Node after = out[dq->second];
    const std::string integer_in = after.input(0);
    const std::string float_out = op.outputs[0];
    const std::string integer_out = g.unique_name(float_out + "_quantized");
    ValueInfo info;
    info.dtype = g.info(integer_in)->dtype;
    if (const ValueInfo* f = g.info(float_out)) info.shape = f->shape;
    g.values[integer_out] = std::move(info);
    after.name += "_after_" + op.name;
    after.inputs[0] = integer_out;
    after.outputs = {float_out};
    op.inputs[0] = integer_in;
    op.outputs[0] = integer_out;
    producer[integer_out] = out.size();
    out.push_back(std::move(op));
    producer[float_out] = out.size();
    out.push_back(std::move(after));
    ++moved;
  }
  g.nodes = std::move(out);
  if (moved > 0) eliminate_dead_nodes(g);
  return moved;
}

}  // namespace quench

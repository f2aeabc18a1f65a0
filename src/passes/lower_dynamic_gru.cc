// DequantizeLinear(int8 W), DequantizeLinear(int8 R) -> GRU, the weight-only form `quench
// quantize --mode dynamic` writes (no runtime has an integer GRU op), becomes quench's internal
// DynamicQuantizeGRU: the same int8 weights, and the input and hidden state quantized at run time
// (docs/quantization.md, eqs. (136)-(138)), so the GRU runs on integer products as the dynamic
// LSTM does. Runs inside lower_qdq, before its final folding would turn the DequantizeLinear of
// the weights into float constants.
#include <fmt/format.h>

#include "ir/graph_index.h"
#include "kernels/ref/rnn_attributes.h"
#include "ops/domains.h"
#include "ops/quantized/dynamic_gru.h"
#include "passes/runtime_passes.h"

namespace quench {
namespace {

// The int8 weights and their scales per (direction, gate row) behind a DequantizeLinear.
struct GateWeights {
  std::string data;
  std::vector<float> scales;  // [dirs * rows]
};

// Why `value` (input W or R of a GRU, [dirs, rows, K]) is not DequantizeLinear(int8 constant)
// with zero point 0 and scales per tensor, per direction or per gate row; "" when it is.
std::string gate_weights(const Graph& g, const GraphIndex& index, const std::string& value,
                         const char* what, GateWeights& out) {
  const int producer = index.producer(value);
  if (producer < 0) return fmt::format("{} is not a DequantizeLinear output", what);
  const Node& dq = g.nodes[producer];
  if (dq.op_type != "DequantizeLinear" || !dq.domain.empty()) {
    return fmt::format("{} is not a DequantizeLinear output", what);
  }
  const Tensor* data = g.initializer(dq.input(0));
  const Tensor* scale = dq.inputs.size() > 1 ? g.initializer(dq.input(1)) : nullptr;
  if (data == nullptr || scale == nullptr)
    return fmt::format("{}'s int8 data or scale is not constant", what);
  if (data->dtype() != DType::kInt8) {
    return fmt::format("{} is {}, the integer GRU takes int8", what, dtype_name(data->dtype()));
  }
  if (data->rank() != 3 || scale->dtype() != DType::kFloat32) {
    return fmt::format("{} is not [dirs, rows, K] with float scales", what);
  }
  if (dq.has_input(2)) {
    const Tensor* zero_point = g.initializer(dq.input(2));
    if (zero_point == nullptr) return fmt::format("{}'s zero point is not constant", what);
    for (int64_t i = 0; i < zero_point->numel(); ++i) {
      if (zero_point->data<int8_t>()[i] != 0) {
        return fmt::format("{}'s zero point is not 0 (the integer GRU takes symmetric weights)",
                           what);
      }
    }
  }
  if (dq.attr_int("block_size", 0) != 0) return fmt::format("{} is quantized blockwise", what);
  const int64_t dirs = data->dim(0), rows = data->dim(1), count = scale->numel();
  int64_t axis = dq.attr_int("axis", 1);
  if (axis < 0) axis += 3;
  const float* s = scale->data<float>();
  out.data = dq.input(0);
  out.scales.assign(static_cast<size_t>(dirs * rows), s[0]);
  if (count == 1 && scale->rank() <= 1) return "";
  if (scale->rank() == 1 && axis == 1 && count == rows) {
    for (int64_t d = 0; d < dirs; ++d) std::copy(s, s + rows, out.scales.begin() + d * rows);
    return "";
  }
  if (scale->rank() == 1 && axis == 0 && count == dirs) {
    for (int64_t d = 0; d < dirs; ++d) {
      std::fill(out.scales.begin() + d * rows, out.scales.begin() + (d + 1) * rows, s[d]);
    }
    return "";
  }
  return fmt::format(
      "{}'s scales are along axis {} (the integer GRU takes them per tensor, per "
      "direction or per gate row)",
      what, axis);
}

std::string add_initializer(Graph& g, const std::string& base, Tensor value) {
  const std::string name = g.unique_name(base);
  g.info_mut(name) = ValueInfo{value.dtype(), symbolic(value.shape()), ""};
  g.initializers[name] = std::move(value);
  return name;
}

// Why GRU `node` stays float, or "" when it was rewritten.
std::string lower_one(Graph& g, const GraphIndex& index, Node& node) {
  if (node.attr_int("layout", 0) != 0) return "layout = 1 (the integer GRU is sequence-major)";
  if (node.outputs.size() > 2) return "more than 2 outputs";
  const ValueInfo* x = g.info(node.input(0));
  if (x == nullptr || x->dtype != DType::kFloat32) return "X is not float";
  if (node.has_input(kRnnB) && !g.is_initializer(node.input(kRnnB))) return "B is not constant";
  if (node.inputs.size() > kRnnInitialH + 1) return "more than 6 inputs";
  GateWeights w, r;
  std::string why = gate_weights(g, index, node.input(kRnnW), "W", w);
  if (why.empty()) why = gate_weights(g, index, node.input(kRnnR), "R", r);
  if (!why.empty()) return why;
  const Tensor& w_data = *g.initializer(w.data);
  const Tensor& r_data = *g.initializer(r.data);
  const int64_t dirs = w_data.dim(0), rows = w_data.dim(1);
  if (r_data.dim(0) != dirs || r_data.dim(1) != rows) return "W and R disagree in shape";
  std::vector<std::string> inputs(kGruInputCount);
  for (size_t i = 0; i < node.inputs.size(); ++i) inputs[i] = node.inputs[i];
  inputs[kRnnW] = w.data;
  inputs[kRnnR] = r.data;
  inputs[kGruWScale] = add_initializer(g, node.input(kRnnW) + "_gate_scales",
                                       Tensor::from_vector<float>({dirs, rows}, w.scales));
  inputs[kGruRScale] = add_initializer(g, node.input(kRnnR) + "_gate_scales",
                                       Tensor::from_vector<float>({dirs, rows}, r.scales));
  node.inputs = std::move(inputs);
  node.op_type = "DynamicQuantizeGRU";
  node.domain = kInternalDomain;
  node.attributes.erase("layout");
  return "";
}

}  // namespace

std::vector<std::string> lower_dynamic_gru(Graph& graph) {
  std::vector<std::string> reasons(graph.nodes.size());
  const GraphIndex index(graph);
  bool lowered = false;
  for (size_t n = 0; n < graph.nodes.size(); ++n) {
    Node& node = graph.nodes[n];
    if (node.op_type != "GRU" || !node.domain.empty()) continue;
    reasons[n] = lower_one(graph, index, node);
    lowered = lowered || reasons[n].empty();
  }
  if (lowered) graph.opsets[kInternalDomain] = graph.opset("");
  return reasons;
}

}  // namespace quench

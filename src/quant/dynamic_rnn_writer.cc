// Dynamic quantization of the recurrent ops. LSTM becomes com.microsoft DynamicQuantizeLSTM
// (ONNX Runtime's form: int8 W and R transposed to [dirs, K, 4h], scales per direction or per
// gate row; the inputs and the hidden state are quantized inside the op at every step, eq. (44)).
// GRU has no standard or com.microsoft dynamic op, so it is quantized weight only: int8 W and R
// behind DequantizeLinear feeding the float GRU, which every runtime runs.
#include "ops/domains.h"
#include "quant/dynamic_writer.h"

namespace quench::quant {
namespace {

struct GateWeights {
  Tensor data;                 // int8 [dirs, K, rows]
  Tensor scales, zero_points;  // [dirs, rows] per gate row, or [dirs]
};

// W or R [dirs, rows, K] of an LSTM: per gate row of each direction (eq. (25) on the
// [dirs * rows, K] view), or one scale repeated per direction.
GateWeights gate_weights(DynamicBuilder& b, const Tensor& w) {
  const int64_t dirs = w.dim(0), rows = w.dim(1), k = w.dim(2);
  const bool per_row = b.recipe().per_channel;
  const WeightQuant q = b.weight(w.reshaped({dirs * rows, k}), 0);
  GateWeights out;
  out.data = Tensor::empty(DType::kInt8, {dirs, k, rows});
  const int8_t* src = q.quantized.data<int8_t>();
  int8_t* dst = out.data.data<int8_t>();
  for (int64_t d = 0; d < dirs; ++d) {
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t col = 0; col < k; ++col) {
        dst[(d * k + col) * rows + row] = src[(d * rows + row) * k + col];
      }
    }
  }
  const Shape shape = per_row ? Shape{dirs, rows} : Shape{dirs};
  out.scales = per_row ? Tensor::from_vector<float>(shape, q.scales)
                       : Tensor::from_vector<float>(shape, std::vector<float>(dirs, q.scales[0]));
  out.zero_points = Tensor::zeros(DType::kInt8, shape);
  return out;
}

}  // namespace

void write_dynamic_lstm(DynamicBuilder& b, const Node& node) {
  Graph& g = b.graph();
  Node q;
  q.op_type = "DynamicQuantizeLSTM";
  q.domain = kMsDomain;
  q.name = node.name;
  q.outputs = node.outputs;
  q.attributes = node.attributes;
  q.attributes.erase("layout");  // checked to be 0: DynamicQuantizeLSTM has no such attribute
  const Tensor& r = *g.initializer(node.input(2));
  if (!q.has_attr("hidden_size")) q.set_attr("hidden_size", r.dim(2));
  q.inputs.assign(12, "");
  for (size_t i = 0; i < 8; ++i) q.inputs[i] = node.input(i);
  for (size_t i : {size_t{1}, size_t{2}}) {
    const std::string& value = node.input(i);
    GateWeights w = gate_weights(b, *g.initializer(value));
    q.inputs[i] = b.add_initializer(value + "_quantized", std::move(w.data));
    q.inputs[8 + 2 * (i - 1)] = b.add_initializer(value + "_scale", std::move(w.scales));
    q.inputs[9 + 2 * (i - 1)] = b.add_initializer(value + "_zero_point", std::move(w.zero_points));
  }
  b.add(std::move(q));
}

Node write_weight_only_gru(DynamicBuilder& b, const Node& node) {
  Graph& g = b.graph();
  Node gru = node;
  const bool per_row = b.recipe().per_channel;
  for (size_t i : {size_t{1}, size_t{2}}) {
    const std::string& value = node.input(i);
    const Tensor& w = *g.initializer(value);
    WeightQuant q = b.weight(w, 1);  // per gate row, shared by the directions
    const int64_t rows = w.dim(1);
    const std::string data = b.add_initializer(value + "_quantized", std::move(q.quantized));
    const std::string scale =
        b.add_initializer(value + "_scale", per_row ? Tensor::from_vector<float>({rows}, q.scales)
                                                    : Tensor::scalar(q.scales[0]));
    const std::string zero_point =
        b.add_initializer(value + "_zero_point", per_row ? Tensor::zeros(DType::kInt8, {rows})
                                                         : Tensor::scalar<int8_t>(0));
    std::map<std::string, AttributeValue> axis;
    if (per_row) axis["axis"] = int64_t{1};
    gru.inputs[i] =
        b.add_node(node.name + "/DequantizeLinear_" + std::to_string(i), "DequantizeLinear",
                   {data, scale, zero_point}, value + "_dequantized", DType::kFloat32, false, axis);
    g.values[gru.inputs[i]].shape = symbolic(w.shape());
  }
  return gru;
}

}  // namespace quench::quant

#include "core/check.h"
#include "quant/dynamic_writer.h"

namespace quench::quant {
namespace {

// Smallest per-token scale: a row of zeros divides by it instead of by 0 (as eq. (24)).
constexpr float kMinTokenScale = 1e-12f;

}  // namespace

std::string DynamicBuilder::add_initializer(const std::string& base, Tensor t) {
  const std::string name = g_.unique_name(base);
  g_.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
  g_.initializers[name] = std::move(t);
  return name;
}

std::string DynamicBuilder::add_node(const std::string& name, const char* op,
                                     std::vector<std::string> inputs, const std::string& base,
                                     DType type, bool exact,
                                     std::map<std::string, AttributeValue> attributes) {
  Node n;
  n.op_type = op;
  n.name = name;
  n.inputs = std::move(inputs);
  const std::string output = exact ? base : g_.unique_name(base);
  if (!exact) g_.values[output] = ValueInfo{type, std::nullopt, ""};
  n.outputs = {output};
  for (auto& [key, value] : attributes) n.set_attr(key, std::move(value));
  added_.push_back(std::move(n));
  return output;
}

const DynamicBuilder::Activation& DynamicBuilder::per_tensor(const std::string& value) {
  auto done = per_tensor_.find(value);
  if (done != per_tensor_.end()) return done->second;
  Activation a{g_.unique_name(value + "_quantized"), g_.unique_name(value + "_scale"), ""};
  g_.values[a.data] = ValueInfo{DType::kUInt8, std::nullopt, ""};
  g_.values[a.scale] = ValueInfo{DType::kFloat32, SymbolicShape{}, ""};
  a.zero_point = g_.unique_name(value + "_zero_point");
  g_.values[a.zero_point] = ValueInfo{DType::kUInt8, SymbolicShape{}, ""};
  Node n;
  n.op_type = "DynamicQuantizeLinear";
  n.name = value + "/DynamicQuantizeLinear";
  n.inputs = {value};
  n.outputs = {a.data, a.scale, a.zero_point};
  added_.push_back(std::move(n));
  ++report_.activation_tensors;
  return per_tensor_.emplace(value, a).first->second;
}

// Eq. (65): s = max(max |x_row| / 127, kMinTokenScale), q = clamp(round(x / s), −127, 127).
const DynamicBuilder::Activation& DynamicBuilder::per_token(const std::string& value) {
  auto done = per_token_.find(value);
  if (done != per_token_.end()) return done->second;
  const std::string at = value + "/per_token/";
  const std::string abs = add_node(at + "Abs", "Abs", {value}, value + "_abs", DType::kFloat32);
  std::map<std::string, AttributeValue> keep = {{"keepdims", int64_t{1}}};
  std::vector<std::string> reduce_inputs = {abs};
  if (g_.opset("") >= 18) {
    reduce_inputs.push_back(
        add_initializer(value + "_last_axis", Tensor::from_vector<int64_t>({1}, {-1})));
  } else {
    keep["axes"] = std::vector<int64_t>{-1};
  }
  const std::string amax = add_node(at + "ReduceMax", "ReduceMax", reduce_inputs, value + "_absmax",
                                    DType::kFloat32, false, keep);
  const std::string levels = add_initializer(value + "_levels", Tensor::scalar(127.f));
  const std::string ratio =
      add_node(at + "Div_levels", "Div", {amax, levels}, value + "_ratio", DType::kFloat32);
  const std::string smallest =
      add_initializer(value + "_min_scale", Tensor::scalar(kMinTokenScale));
  Activation a;
  a.scale = add_node(at + "Max", "Max", {ratio, smallest}, value + "_token_scale", DType::kFloat32);
  const std::string scaled =
      add_node(at + "Div", "Div", {value, a.scale}, value + "_scaled", DType::kFloat32);
  const std::string rounded =
      add_node(at + "Round", "Round", {scaled}, value + "_rounded", DType::kFloat32);
  const std::string lo = add_initializer(value + "_lowest", Tensor::scalar(-127.f));
  const std::string hi = add_initializer(value + "_highest", Tensor::scalar(127.f));
  const std::string clipped =
      add_node(at + "Clip", "Clip", {rounded, lo, hi}, value + "_clipped", DType::kFloat32);
  a.data = add_node(at + "Cast", "Cast", {clipped}, value + "_quantized", DType::kInt8, false,
                    {{"to", static_cast<int64_t>(DType::kInt8)}});
  ++report_.activation_tensors;
  return per_token_.emplace(value, a).first->second;
}

WeightQuant DynamicBuilder::weight(const Tensor& w, int64_t axis) {
  WeightQuant q = quantize_weights(w, axis, recipe_.per_channel);
  report_.weight_bytes_before += w.nbytes();
  report_.weight_bytes_after += q.quantized.nbytes() + q.scales.size() * sizeof(float);
  ++report_.weight_tensors;
  return q;
}

Tensor transposed_2d(const Tensor& t) {
  QUENCH_CHECK(t.rank() == 2 && t.dtype() == DType::kInt8, ErrorKind::kInternal,
               "transposed_2d takes an int8 matrix");
  const int64_t rows = t.dim(0), cols = t.dim(1);
  Tensor out = Tensor::empty(DType::kInt8, {cols, rows});
  const int8_t* src = t.data<int8_t>();
  int8_t* dst = out.data<int8_t>();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) dst[c * rows + r] = src[r * cols + c];
  }
  return out;
}

}  // namespace quench::quant

#include "eval/tensor_match.h"

#include <optional>
#include <set>
#include <unordered_map>

namespace quench {
namespace {

constexpr std::string_view kQuantizedSuffix = "_quantized";

struct Params {
  float scale;
  int32_t zero_point;
  DType type;  // of the 8-bit values
};

// Output scale / zero-point input positions of the ops that produce an 8-bit tensor.
std::optional<std::pair<size_t, size_t>> output_param_inputs(const Node& n) {
  static const std::unordered_map<std::string, std::pair<size_t, size_t>> table = {
      {"QuantizeLinear", {1, 2}},
      {"QLinearConv", {6, 7}},
      {"QLinearMatMul", {6, 7}},
      {"QGemm", {7, 8}},
      {"QLinearAdd", {6, 7}},
      {"QLinearMul", {6, 7}},
      {"QLinearGlobalAveragePool", {3, 4}},
      {"QLinearAveragePool", {3, 4}},
      {"QLinearLeakyRelu", {3, 4}},
      {"QLinearSigmoid", {3, 4}},
      {"QLinearSoftmax", {3, 4}},
      {"QLinearConcat", {0, 1}},
  };
  const auto it = table.find(n.op_type);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

// Ops that move 8-bit data without changing its scale.
bool passes_params(const Node& n) {
  static const std::set<std::string> ops = {"MaxPool", "Flatten",   "Reshape",  "Transpose",
                                            "Squeeze", "Unsqueeze", "Identity", "Slice"};
  return ops.count(n.op_type) != 0;
}

float scalar_float(const Tensor& t) { return t.data<float>()[0]; }

std::optional<int32_t> scalar_int(const Tensor& t) {
  switch (t.dtype()) {
    case DType::kUInt8:
      return t.data<uint8_t>()[0];
    case DType::kInt8:
      return t.data<int8_t>()[0];
    default:
      return std::nullopt;
  }
}

class Producers {
 public:
  explicit Producers(const Graph& g) : g_(g) {
    for (const Node& n : g.nodes) {
      for (const std::string& out : n.outputs) {
        if (!out.empty()) of_[out] = &n;
      }
    }
  }
  const Node* of(const std::string& value) const {
    const auto it = of_.find(value);
    return it == of_.end() ? nullptr : it->second;
  }
  // The per-tensor quantization of an 8-bit value, when its producer (or the chain of data
  // movement before it) names constant ones.
  std::optional<Params> params(const std::string& value, int depth = 0) const {
    const Node* n = of(value);
    if (!n || depth > 64) return std::nullopt;
    if (passes_params(*n)) return params(n->input(0), depth + 1);
    const auto at = output_param_inputs(*n);
    if (!at) return std::nullopt;
    const Tensor* scale = g_.initializer(n->input(at->first));
    if (!scale || scale->numel() != 1 || scale->dtype() != DType::kFloat32) return std::nullopt;
    int32_t zero_point = 0;
    DType type = DType::kUInt8;  // ONNX's default without a zero point
    if (n->has_input(at->second)) {
      const Tensor* zp = g_.initializer(n->input(at->second));
      if (!zp || zp->numel() != 1) return std::nullopt;
      const auto z = scalar_int(*zp);
      if (!z) return std::nullopt;
      zero_point = *z;
      type = zp->dtype();
    }
    return Params{scalar_float(*scale), zero_point, type};
  }

 private:
  const Graph& g_;
  std::unordered_map<std::string, const Node*> of_;
};

// The float range the 8-bit values can represent: scale * (q - zero point) at the type's limits.
void set_range(TensorMatch& m, const Params& p) {
  const double qmin = p.type == DType::kInt8 ? -128 : 0, qmax = p.type == DType::kInt8 ? 127 : 255;
  m.has_range = true;
  m.range_lo = p.scale * (qmin - p.zero_point);
  m.range_hi = p.scale * (qmax - p.zero_point);
}

bool is_8bit(DType t) { return t == DType::kUInt8 || t == DType::kInt8; }

}  // namespace

std::vector<TensorMatch> match_tensors(const std::map<std::string, DType>& a_values,
                                       const std::map<std::string, DType>& b_values,
                                       const Graph& a_graph, const Graph& b_graph) {
  const Producers producers(b_graph);
  // A's activation that a QOperator op may have fused: X read by a lone Relu/Clip alone.
  std::unordered_map<std::string, std::vector<const Node*>> a_readers;
  for (const Node& n : a_graph.nodes) {
    for (const std::string& in : n.inputs) {
      if (!in.empty()) a_readers[in].push_back(&n);
    }
  }
  auto fused_activation = [&](const std::string& x) -> std::string {
    const auto it = a_readers.find(x);
    if (it == a_readers.end() || it->second.size() != 1) return "";
    const Node& act = *it->second.front();
    if (act.op_type != "Relu" && act.op_type != "Clip") return "";
    const std::string& y = act.outputs.at(0);
    const std::string yq = y + std::string(kQuantizedSuffix);
    // Where B keeps the activation's own tensor, it was not fused.
    if (b_values.count(y) || b_values.count(yq)) return "";
    return y;
  };
  auto is_a_float = [&](const std::string& name) {
    const auto it = a_values.find(name);
    return it != a_values.end() && it->second == DType::kFloat32;
  };
  // Strength of each kind of match: the strongest one per A tensor wins.
  std::map<std::string, std::pair<int, TensorMatch>> best;
  auto offer = [&](int strength, TensorMatch m) {
    const std::string key = m.a_name;
    auto it = best.find(key);
    if (it == best.end() || it->second.first < strength) best[key] = {strength, std::move(m)};
  };
  for (const auto& [name, type] : b_values) {
    if (type == DType::kFloat32) {
      // QDQ: DequantizeLinear(QuantizeLinear(X)) carries X.
      const Node* dq = producers.of(name);
      if (dq && dq->op_type == "DequantizeLinear") {
        const Node* q = producers.of(dq->input(0));
        if (q && q->op_type == "QuantizeLinear" && is_a_float(q->input(0))) {
          TensorMatch m{q->input(0), name};
          if (const auto p = producers.params(dq->input(0))) set_range(m, *p);
          offer(3, std::move(m));
          continue;
        }
      }
      if (is_a_float(name)) offer(1, {name, name});
    } else if (is_8bit(type) && name.size() > kQuantizedSuffix.size() &&
               name.ends_with(kQuantizedSuffix)) {
      // QOperator: "X_quantized" holds X in 8 bits.
      std::string a_name = name.substr(0, name.size() - kQuantizedSuffix.size());
      if (!is_a_float(a_name)) continue;
      // ONNX Runtime's QLinearConv carries the Relu after the Conv it replaced (the output keeps
      // the Conv's name): it stands for the Relu's output.
      if (const std::string y = fused_activation(a_name); !y.empty() && is_a_float(y)) a_name = y;
      const auto p = producers.params(name);
      if (!p) continue;
      TensorMatch m{a_name, name, true, p->scale, p->zero_point};
      set_range(m, *p);
      offer(2, std::move(m));
    }
  }
  std::vector<TensorMatch> out;
  out.reserve(best.size());
  for (auto& [name, entry] : best) out.push_back(std::move(entry.second));
  return out;
}

}  // namespace quench

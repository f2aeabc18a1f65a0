// The QDQ form: QuantizeLinear -> DequantizeLinear on every quantized activation, int8 weights
// and int32 bias behind DequantizeLinear, float ops in between (docs/quantization.md, "QDQ").
#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/requantize.h"
#include "ir/graph_index.h"
#include "quant/quant_source.h"
#include "quant/written_model_check.h"
#include "quench/passes.h"

namespace quench::quant {
namespace {

Tensor scalar_of(DType type, int32_t v) {
  switch (type) {
    case DType::kUInt8:
      return Tensor::scalar<uint8_t>(static_cast<uint8_t>(v));
    case DType::kInt8:
      return Tensor::scalar<int8_t>(static_cast<int8_t>(v));
    default:
      return Tensor::scalar<int32_t>(v);
  }
}

class QdqWriter {
 public:
  QdqWriter(Graph& g, const QuantPlan& plan, const QuantSource& source, const QuantRecipe& recipe,
            QuantizeReport& report)
      : g_(g), plan_(plan), source_(source), recipe_(recipe), report_(report) {}

  void run() {
    const std::vector<Node> original = g_.nodes;
    for (const auto& [value, a] : plan_.activations) add_activation_qdq(value, a);
    for (const NodeQuant& nq : plan_.nodes) {
      Node& node = g_.nodes[nq.node];
      for (const WeightInput& w : nq.weights) {
        node.inputs[w.input] = weight_dq(node.inputs[w.input], w);
      }
      if (nq.bias_input >= 0) quantize_node_bias(node, nq, node, nq.bias_input);
      if (nq.bias_node >= 0) {
        quantize_node_bias(node, nq, g_.nodes[static_cast<size_t>(nq.bias_node)],
                           nq.bias_node_input);
      }
    }
    // Quantized nodes read the dequantized activations; the others keep the float tensors.
    for (size_t i = 0; i < original.size(); ++i) {
      if (!plan_.quantized[i]) continue;
      for (auto& in : g_.nodes[i].inputs) {
        auto it = dequantized_.find(in);
        if (it != dequantized_.end()) in = it->second;
      }
    }
    g_.nodes.insert(g_.nodes.end(), added_.begin(), added_.end());
    topological_sort(g_);
    eliminate_dead_nodes(g_);
  }

 private:
  std::string add_initializer(const std::string& base, Tensor t) {
    const std::string name = g_.unique_name(base);
    g_.values[name] = ValueInfo{t.dtype(), symbolic(t.shape()), ""};
    g_.initializers[name] = std::move(t);
    return name;
  }

  Node make_node(const char* op, std::vector<std::string> inputs, const std::string& output) {
    Node n;
    n.op_type = op;
    n.name = output + "_node";
    n.inputs = std::move(inputs);
    n.outputs = {output};
    return n;
  }

  void add_activation_qdq(const std::string& value, const ActivationQuant& a) {
    const QuantParams p = source_.activation(g_, value, a);
    params_[value] = p;
    const std::string scale = add_initializer(value + "_scale", Tensor::scalar(p.scale()));
    const std::string zp =
        add_initializer(value + "_zero_point", scalar_of(p.type, p.zero_point()));
    const ValueInfo* info = g_.info(value);
    std::string quantized;
    if (a.constant) {
      // A constant operand is stored quantized: only the DequantizeLinear is needed.
      const Tensor& t = *g_.initializer(value);
      Tensor q = Tensor::empty(p.type, t.shape());
      const auto v = t.to_double_vector();
      for (size_t i = 0; i < v.size(); ++i) {
        // Eq. (4), as QuantizeLinear would compute it at run time.
        const float x = static_cast<float>(v[i]);
        if (p.type == DType::kUInt8) {
          q.data<uint8_t>()[i] = quantize<uint8_t>(x, p.scale(), p.zero_point());
        } else {
          q.data<int8_t>()[i] =
              std::max<int8_t>(quantize<int8_t>(x, p.scale(), p.zero_point()),
                               static_cast<int8_t>(quantizer_range(p.type).lowest));
        }
      }
      quantized = add_initializer(value + "_quantized", std::move(q));
    } else {
      quantized = g_.unique_name(value + "_quantized");
      g_.values[quantized] = ValueInfo{p.type, info ? info->shape : std::nullopt, ""};
      added_.push_back(make_node("QuantizeLinear", {value, scale, zp}, quantized));
    }
    const std::string dequantized = g_.unique_name(value + "_dequantized");
    g_.values[dequantized] = ValueInfo{DType::kFloat32, info ? info->shape : std::nullopt, ""};
    added_.push_back(make_node("DequantizeLinear", {quantized, scale, zp}, dequantized));
    dequantized_[value] = dequantized;
    ++report_.activation_tensors;
  }

  // int8 weights + per-channel scales behind one DequantizeLinear (shared by every reader).
  std::string weight_dq(const std::string& value, const WeightInput& input) {
    auto done = weights_.find(value);
    if (done != weights_.end()) return done->second.first;
    const Tensor& w = *g_.initializer(value);
    WeightQuant q = source_.weight(g_, value, input);
    const int64_t channels = static_cast<int64_t>(q.scales.size());
    Tensor scales = recipe_.per_channel ? Tensor::from_vector<float>({channels}, q.scales)
                                        : Tensor::scalar(q.scales[0]);
    Tensor zeros =
        recipe_.per_channel ? Tensor::zeros(DType::kInt8, {channels}) : Tensor::scalar<int8_t>(0);
    report_.weight_bytes_before += w.nbytes();
    report_.weight_bytes_after += q.quantized.nbytes() + scales.nbytes() + zeros.nbytes();
    ++report_.weight_tensors;
    const std::string qname = add_initializer(value + "_quantized", std::move(q.quantized));
    const std::string sname = add_initializer(value + "_scale", std::move(scales));
    const std::string zname = add_initializer(value + "_zero_point", std::move(zeros));
    const std::string out = g_.unique_name(value + "_dequantized");
    g_.values[out] = ValueInfo{DType::kFloat32, symbolic(w.shape()), ""};
    Node dq = make_node("DequantizeLinear", {qname, sname, zname}, out);
    if (recipe_.per_channel) dq.set_attr("axis", input.axis);
    added_.push_back(std::move(dq));
    weights_[value] = {out, q.scales};
    return out;
  }

  // The bias of `node` (the product nq describes), input `input` of `holder` (the node itself, or
  // the Add joined to a MatMul), as an int32 behind a DequantizeLinear with scales s_x · s_w.
  void quantize_node_bias(const Node& node, const NodeQuant& nq, Node& holder, int input) {
    const std::string& x = node.input(0);
    auto px = params_.find(x);
    auto w = std::find_if(weights_.begin(), weights_.end(), [&](const auto& kv) {
      return kv.second.first == node.input(nq.weights.empty() ? 1 : nq.weights[0].input);
    });
    if (px == params_.end() || w == weights_.end()) return;  // input not quantized: bias stays
    const std::string value = holder.inputs[static_cast<size_t>(input)];
    const Tensor& b = *g_.initializer(value);
    std::vector<float> scales;
    Tensor q = quantize_bias(b, px->second.scale(), w->second.second, &scales);
    report_.weight_bytes_before += b.nbytes();
    report_.weight_bytes_after += q.nbytes() + scales.size() * 8;
    const int64_t n = b.numel();
    const std::string qname = add_initializer(value + "_quantized", std::move(q));
    const std::string sname =
        add_initializer(value + "_scale", Tensor::from_vector<float>({n}, scales));
    const std::string zname =
        add_initializer(value + "_zero_point", Tensor::zeros(DType::kInt32, {n}));
    const std::string out = g_.unique_name(value + "_dequantized");
    g_.values[out] = ValueInfo{DType::kFloat32, symbolic(b.shape()), ""};
    Node dq = make_node("DequantizeLinear", {qname, sname, zname}, out);
    dq.set_attr("axis", int64_t{0});
    added_.push_back(std::move(dq));
    holder.inputs[static_cast<size_t>(input)] = out;
  }

  Graph& g_;
  const QuantPlan& plan_;
  const QuantSource& source_;
  const QuantRecipe& recipe_;
  QuantizeReport& report_;
  std::vector<Node> added_;
  std::map<std::string, std::string> dequantized_;
  std::map<std::string, QuantParams> params_;
  std::map<std::string, std::pair<std::string, std::vector<float>>> weights_;
};

}  // namespace

Model write_qdq(const Model& prepared, const QuantPlan& plan, const QuantSource& source,
                const QuantRecipe& recipe, QuantizeReport& report) {
  report = QuantizeReport{};
  Model m = prepared;
  QdqWriter(m.graph, plan, source, recipe, report).run();
  report.nodes = plan.decisions;
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    report.nodes[i].quantized = plan.quantized[i];
    (plan.quantized[i] ? report.quantized_nodes : report.skipped_nodes)++;
  }
  check_written_model(m, "the quantized model", report.notes);
  return m;
}

}  // namespace quench::quant

namespace quench {

Model quantize_static(const Model& prepared, const CalibrationTable& table,
                      const QuantRecipe& recipe, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  const quant::QuantPlan plan = quant::plan_quantization(prepared.graph, recipe);
  Model m = quant::write_qdq(prepared, plan, quant::CalibratedSource(table, recipe), recipe, r);
  m.metadata.emplace_back(
      "quench.quantization",
      fmt::format("static, {} activations, {} {} weights, {} calibration "
                  "({} samples)",
                  recipe.weight_only ? std::string("float")
                                     : std::string(dtype_name(recipe.activation_type)),
                  quant::describe_weight_bits(recipe),
                  recipe.per_channel ? "per-channel" : "per-tensor",
                  calibration_method_name(table.config.method), table.samples));
  return m;
}

}  // namespace quench

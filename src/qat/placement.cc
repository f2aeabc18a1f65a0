#include "qat/placement.h"

#include <cmath>

#include "core/check.h"
#include "quench/passes.h"
#include "train/tape.h"

namespace quench::qat {

using train::qat::fake_quant_range;
using train::qat::FakeQuantSpec;
using train::qat::lsq_grad_scale;
using train::qat::make_fake_quantize_node;

namespace {

// (103) An 8-bit calibrated scale and zero point narrowed to `spec`'s range: the same real range
// [s·(qmin8 − z8), s·(qmax8 − z8)] over fewer steps.
void narrow(const QuantParams& p, const FakeQuantSpec& spec, float& scale, float& zero) {
  const quant::IntRange r8 = quant::quantizer_range(p.type);
  const double lo = static_cast<double>(p.scale()) * (r8.lowest - p.zero_point());
  const double hi = static_cast<double>(p.scale()) * (r8.highest - p.zero_point());
  if (p.type == DType::kInt8) {
    scale = static_cast<float>(hi / spec.qmax);
    zero = 0;
    return;
  }
  scale = static_cast<float>((hi - lo) / (spec.qmax - spec.qmin));
  zero = std::clamp<float>(std::nearbyint(static_cast<float>(-lo / scale)),
                           static_cast<float>(spec.qmin), static_cast<float>(spec.qmax));
}

}  // namespace

QatGraph place_fake_quantization(const Graph& prepared, const quant::QuantPlan& plan,
                                 const quant::QuantSource& init, int activation_bits,
                                 const std::set<std::string>& eight_bit,
                                 const quant::QuantSource* narrow_init) {
  QatGraph q;
  q.graph = prepared;
  Graph& g = q.graph;
  std::vector<Node> added;
  std::map<std::string, std::string> faked;  // activation value -> its fake-quantized value
  for (const auto& [value, a] : plan.activations) {
    const bool symmetric = a.type == DType::kInt8;
    const int bits = eight_bit.count(value) || eight_bit.count(a.params_from) ? 8 : activation_bits;
    FakeQuantSpec spec = fake_quant_range(bits, symmetric);
    spec.per_sample = !a.constant;
    std::string key = a.constant ? value : a.params_from;
    auto it = q.activations.find(key);
    if (it == q.activations.end()) {
      const quant::QuantSource& from = bits < 8 && narrow_init ? *narrow_init : init;
      const QuantParams p = from.activation(prepared, value, a);
      float scale = p.scale(), zero = static_cast<float>(p.zero_point());
      if (bits < 8) narrow(p, spec, scale, zero);
      ActivationParams ap;
      ap.spec = spec;
      ap.scale = g.unique_name(key + "_qat_scale");
      g.initializers[ap.scale] = Tensor::scalar(scale);
      if (!symmetric) {
        ap.zero_point = g.unique_name(key + "_qat_zero_point");
        g.initializers[ap.zero_point] = Tensor::scalar(zero);
      }
      if (!a.constant) {
        q.quant_params.push_back(ap.scale);
        if (!ap.zero_point.empty()) q.quant_params.push_back(ap.zero_point);
      }
      it = q.activations.emplace(key, ap).first;
    }
    const std::string out = g.unique_name(value + "_fq");
    g.values[out] =
        ValueInfo{DType::kFloat32, g.info(value) ? g.info(value)->shape : std::nullopt, ""};
    added.push_back(make_fake_quantize_node(out + "_node", value, it->second.scale,
                                            it->second.zero_point, out, it->second.spec));
    faked[value] = out;
  }
  for (const quant::NodeQuant& nq : plan.nodes) {
    Node& node = g.nodes[nq.node];
    for (const quant::WeightInput& w : nq.weights) {
      const std::string name = node.inputs[w.input];
      auto it = q.weight_params.find(name);
      if (it == q.weight_params.end()) {
        const quant::WeightQuant wq = init.weight(prepared, name, w);
        const int64_t channels = static_cast<int64_t>(wq.scales.size());
        WeightParams wp;
        wp.spec = fake_quant_range(w.bits, true);
        wp.spec.axis = channels > 1 ? w.axis : -1;
        const Tensor& weight = *prepared.initializer(name);
        wp.spec.grad_scale = lsq_grad_scale(weight, channels, wp.spec.qmax, false);  // (100)
        wp.scale = g.unique_name(name + "_qat_scale");
        std::vector<float> scales = wq.scales;
        for (float& s : scales) s = s > 0 ? s : 1e-8f;  // an all-zero channel
        g.initializers[wp.scale] = Tensor::from_vector<float>({channels}, scales);
        q.quant_params.push_back(wp.scale);
        const std::string out = g.unique_name(name + "_fq");
        g.values[out] = ValueInfo{DType::kFloat32, symbolic(weight.shape()), ""};
        added.push_back(make_fake_quantize_node(out + "_node", name, wp.scale, "", out, wp.spec));
        faked[name] = out;
        it = q.weight_params.emplace(name, wp).first;
      }
    }
  }
  // (126) The int32 bias of a quantized node whose input and weight are both quantized (the QDQ
  // writer's rule): fake-quantized with scale s_x · s_w, so that training adds the bias the
  // exported model adds.
  for (const quant::NodeQuant& nq : plan.nodes) {
    const Node& node = prepared.nodes[nq.node];
    // The bias input of the node itself, or of the Add joined to a MatMul.
    const Node& holder = nq.bias_node >= 0 ? prepared.nodes[nq.bias_node] : node;
    const int input = nq.bias_node >= 0 ? nq.bias_node_input : nq.bias_input;
    if (input < 0 || input >= static_cast<int>(holder.inputs.size())) continue;
    const std::string& bias = holder.inputs[input];
    const std::string& weight = node.inputs[nq.weights.empty() ? 1 : nq.weights[0].input];
    const auto pa = plan.activations.find(node.inputs[0]);
    const auto wp = q.weight_params.find(weight);
    if (bias.empty() || !prepared.is_initializer(bias) || faked.count(bias) ||
        pa == plan.activations.end() || wp == q.weight_params.end()) {
      continue;
    }
    const auto ap =
        q.activations.find(pa->second.constant ? node.inputs[0] : pa->second.params_from);
    if (ap == q.activations.end()) continue;
    const Tensor& b = *prepared.initializer(bias);
    const std::string scale = g.unique_name(bias + "_qat_bias_scale");
    g.values[scale] = ValueInfo{DType::kFloat32, std::nullopt, ""};
    Node mul;
    mul.name = scale + "_node";
    mul.op_type = "Mul";
    mul.inputs = {ap->second.scale, wp->second.scale};
    mul.outputs = {scale};
    added.push_back(std::move(mul));
    FakeQuantSpec spec;
    spec.qmin = -2147483647;
    spec.qmax = 2147483647;
    spec.axis = wp->second.spec.axis >= 0 && b.numel() > 1 ? 0 : -1;
    spec.scale_gradient = false;
    const std::string out = g.unique_name(bias + "_fq");
    g.values[out] = ValueInfo{DType::kFloat32, symbolic(b.shape()), ""};
    added.push_back(make_fake_quantize_node(out + "_node", bias, scale, "", out, spec));
    faked[bias] = out;
  }
  // Quantized nodes read the fake-quantized tensors; the others keep the float ones (as the QDQ
  // writer wires its DequantizeLinear outputs).
  for (size_t i = 0; i < prepared.nodes.size(); ++i) {
    if (!plan.quantized[i]) continue;
    for (auto& in : g.nodes[i].inputs) {
      auto it = faked.find(in);
      if (it != faked.end()) in = it->second;
    }
  }
  g.nodes.insert(g.nodes.end(), added.begin(), added.end());
  topological_sort(g);
  for (const std::string& name : train::default_parameters(prepared)) q.weights.push_back(name);
  return q;
}

}  // namespace quench::qat

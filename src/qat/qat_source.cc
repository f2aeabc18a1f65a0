#include "qat/qat_source.h"

#include <algorithm>
#include <cmath>

#include "core/check.h"
#include "core/requantize.h"

namespace quench::qat {

namespace {

// A learned parameter's current value, or a fixed one's (a constant operand's scale and zero
// point, not trained) from the QAT graph.
const Tensor& value_of(const std::map<std::string, Tensor>& values, const std::string& name,
                       const Graph* fixed = nullptr) {
  auto it = values.find(name);
  if (it != values.end()) return it->second;
  const Tensor* t = fixed != nullptr ? fixed->initializer(name) : nullptr;
  QUENCH_CHECK(t != nullptr, ErrorKind::kInternal, "no value for QAT parameter '{}'", name);
  return *t;
}

// (104) The exported zero point: the learned offset rounded half to even into [qmin, qmax].
int32_t exported_zero(const std::map<std::string, Tensor>& values, const ActivationParams& ap,
                      const Graph* fixed = nullptr) {
  if (ap.zero_point.empty()) return 0;
  const float z = round_half_even(value_of(values, ap.zero_point, fixed).data<float>()[0]);
  return static_cast<int32_t>(
      std::clamp(z, static_cast<float>(ap.spec.qmin), static_cast<float>(ap.spec.qmax)));
}

const ActivationParams* find_params(const QatGraph& qat, const quant::ActivationQuant& a,
                                    const std::string& value) {
  auto it = qat.activations.find(a.constant ? value : a.params_from);
  return it == qat.activations.end() ? nullptr : &it->second;
}

}  // namespace

QuantParams QatSource::activation(const Graph& graph, const std::string& value,
                                  const quant::ActivationQuant& a) const {
  const ActivationParams* ap = find_params(qat_, a, value);
  if (ap == nullptr) return base_.activation(graph, value, a);
  // A constant operand's parameters are fixed in training (below 8 bits on their narrow grid):
  // exported as training used them, its codes clamped to that grid by clip_narrow_activations.
  const float s = value_of(values_, ap->scale, &qat_.graph).data<float>()[0];
  return QuantParams::per_tensor(a.type, s, exported_zero(values_, *ap, &qat_.graph));
}

quant::WeightQuant QatSource::weight(const Graph& graph, const std::string& value,
                                     const quant::WeightInput& input) const {
  auto it = qat_.weight_params.find(value);
  if (it == qat_.weight_params.end()) return base_.weight(graph, value, input);
  const WeightParams& wp = it->second;
  const Tensor& w = *graph.initializer(value);
  const Tensor& scales = value_of(values_, wp.scale);
  quant::WeightQuant q;
  q.axis = input.axis;
  q.scales.assign(scales.data<float>(), scales.data<float>() + scales.numel());
  q.quantized = Tensor::empty(DType::kInt8, w.shape());
  const int64_t channels = scales.numel();
  int64_t inner = 1;
  if (channels > 1) {
    for (int64_t d = input.axis + 1; d < w.rank(); ++d) inner *= w.dim(d);
  }
  const float* pw = w.data<float>();
  int8_t* pq = q.quantized.data<int8_t>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float s = q.scales[channels > 1 ? (i / inner) % channels : 0];
    // (104) = (95) with z = 0: as FakeQuantize rounded the weight in training.
    const float r = round_half_even(pw[i] / s);
    pq[i] = static_cast<int8_t>(
        std::clamp(r, static_cast<float>(wp.spec.qmin), static_cast<float>(wp.spec.qmax)));
  }
  return q;
}

void clip_narrow_activations(Model& qdq, const QatGraph& qat,
                             const std::map<std::string, Tensor>& values,
                             const quant::QuantPlan& plan) {
  Graph& g = qdq.graph;
  std::vector<Node> clips;
  // Constant operands are stored quantized: their codes clamped to the training grid.
  for (const auto& [value, a] : plan.activations) {
    const ActivationParams* ap = a.constant ? find_params(qat, a, value) : nullptr;
    if (ap == nullptr) continue;
    for (const Node& node : g.nodes) {
      if (node.op_type != "DequantizeLinear" || !node.domain.empty() ||
          node.inputs[0].rfind(value + "_quantized", 0) != 0) {
        continue;
      }
      auto found = g.initializers.find(node.inputs[0]);
      if (found == g.initializers.end()) continue;
      Tensor* codes = &found->second;
      if (codes->dtype() == DType::kUInt8) {
        for (uint8_t& c : codes->values<uint8_t>()) {
          c = static_cast<uint8_t>(std::clamp<int32_t>(c, ap->spec.qmin, ap->spec.qmax));
        }
      } else if (codes->dtype() == DType::kInt8) {
        for (int8_t& c : codes->values<int8_t>()) {
          c = static_cast<int8_t>(std::clamp<int32_t>(c, ap->spec.qmin, ap->spec.qmax));
        }
      }
    }
  }
  for (Node& node : g.nodes) {
    if (node.op_type != "QuantizeLinear" || !node.domain.empty()) continue;
    auto pa = plan.activations.find(node.inputs[0]);
    if (pa == plan.activations.end() || pa->second.constant) continue;
    const ActivationParams* ap = find_params(qat, pa->second, node.inputs[0]);
    if (ap == nullptr) continue;
    const bool u8 = pa->second.type == DType::kUInt8;
    const int32_t lowest = u8 ? 0 : -128, highest = u8 ? 255 : 127;
    if (ap->spec.qmin <= lowest && ap->spec.qmax >= highest) continue;
    const float s = value_of(values, ap->scale).data<float>()[0];
    const int32_t z = exported_zero(values, *ap);
    const std::string lo = g.unique_name(node.inputs[0] + "_clip_min");
    g.initializers[lo] = Tensor::scalar(dequantize(ap->spec.qmin, s, z));
    g.values[lo] = ValueInfo{DType::kFloat32, symbolic({}), ""};
    const std::string hi = g.unique_name(node.inputs[0] + "_clip_max");
    g.initializers[hi] = Tensor::scalar(dequantize(ap->spec.qmax, s, z));
    g.values[hi] = ValueInfo{DType::kFloat32, symbolic({}), ""};
    const std::string out = g.unique_name(node.inputs[0] + "_clipped");
    const ValueInfo* info = g.info(node.inputs[0]);
    g.values[out] = ValueInfo{DType::kFloat32, info ? info->shape : std::nullopt, ""};
    Node clip;
    clip.op_type = "Clip";
    clip.name = out + "_node";
    clip.inputs = {node.inputs[0], lo, hi};
    clip.outputs = {out};
    node.inputs[0] = out;
    clips.push_back(std::move(clip));
  }
  g.nodes.insert(g.nodes.end(), clips.begin(), clips.end());
}

}  // namespace quench::qat

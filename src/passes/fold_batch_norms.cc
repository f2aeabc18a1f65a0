// Conv/Gemm followed by BatchNormalization (inference) becomes one Conv/Gemm with rescaled
// weights and bias (docs/quantization.md, eqs. (1)-(3)).
#include <cmath>

#include "ir/graph_index.h"
#include "quench/passes.h"

namespace quench {
namespace {

struct BatchNormParams {
  std::vector<float> factor;  // eq. (1): scale / sqrt(var + eps), per channel
  std::vector<float> shift;   // bias - mean * factor, per channel
};

std::optional<BatchNormParams> constant_bn(const Node& bn, const Graph& g) {
  if (bn.attr_int("training_mode", 0) != 0 || bn.inputs.size() < 5) return std::nullopt;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (!bn.outputs[i].empty()) return std::nullopt;
  }
  const Tensor* t[4];
  for (int i = 0; i < 4; ++i) {
    t[i] = g.initializer(bn.input(i + 1));
    if (t[i] == nullptr || t[i]->dtype() != DType::kFloat32 || t[i]->rank() != 1)
      return std::nullopt;
    if (t[i]->numel() != t[0]->numel()) return std::nullopt;
  }
  const float eps = bn.attr_float("epsilon", 1e-5f);
  BatchNormParams p;
  const int64_t c = t[0]->numel();
  for (int64_t i = 0; i < c; ++i) {
    const float scale = t[0]->data<float>()[i], bias = t[1]->data<float>()[i];
    const float mean = t[2]->data<float>()[i], var = t[3]->data<float>()[i];
    const float f = scale / std::sqrt(var + eps);
    p.factor.push_back(f);
    p.shift.push_back(bias - mean * f);
  }
  return p;
}

// Eqs. (2) and (3): W'[c] = W[c] * f[c]; B'[c] = B[c] * f[c] + shift[c] (B = 0 when absent).
bool fold_into_conv(Node& conv, const BatchNormParams& bn, Graph& g) {
  const Tensor* w = g.initializer(conv.input(1));
  if (w == nullptr || w->dtype() != DType::kFloat32 || w->rank() < 3) return false;
  const int64_t out_channels = w->dim(0);
  if (out_channels != static_cast<int64_t>(bn.factor.size())) return false;
  const Tensor* b = conv.has_input(2) ? g.initializer(conv.input(2)) : nullptr;
  if (conv.has_input(2) && (b == nullptr || b->numel() != out_channels)) return false;
  Tensor new_w = w->clone();
  const int64_t per_channel = w->numel() / out_channels;
  for (int64_t c = 0; c < out_channels; ++c) {
    float* row = new_w.data<float>() + c * per_channel;
    for (int64_t k = 0; k < per_channel; ++k) row[k] *= bn.factor[c];
  }
  Tensor new_b = Tensor::empty(DType::kFloat32, {out_channels});
  for (int64_t c = 0; c < out_channels; ++c) {
    const float bias = b ? b->data<float>()[c] : 0.f;
    new_b.data<float>()[c] = bias * bn.factor[c] + bn.shift[c];
  }
  const std::string w_name = g.unique_name(conv.input(1) + "_bn_folded");
  g.initializers[w_name] = std::move(new_w);
  const std::string b_name = g.unique_name(w_name + "_bias");
  g.initializers[b_name] = std::move(new_b);
  conv.inputs.resize(3);
  conv.inputs[1] = w_name;
  conv.inputs[2] = b_name;
  return true;
}

// Y = alpha·A·B + beta·C with BN on Y's columns: scale B's columns, C' = beta·C·f + shift.
bool fold_into_gemm(Node& gemm, const BatchNormParams& bn, Graph& g) {
  const Tensor* b = g.initializer(gemm.input(1));
  if (b == nullptr || b->dtype() != DType::kFloat32 || b->rank() != 2) return false;
  const bool trans_b = gemm.attr_int("transB", 0) != 0;
  const int64_t n = trans_b ? b->dim(0) : b->dim(1);
  const int64_t k = trans_b ? b->dim(1) : b->dim(0);
  if (n != static_cast<int64_t>(bn.factor.size())) return false;
  const Tensor* c = gemm.has_input(2) ? g.initializer(gemm.input(2)) : nullptr;
  if (gemm.has_input(2) && (c == nullptr || c->dtype() != DType::kFloat32 ||
                            (c->numel() != n && c->numel() != 1) || c->rank() > 1)) {
    return false;
  }
  const float beta = gemm.attr_float("beta", 1.f);
  Tensor new_b = b->clone();
  float* data = new_b.data<float>();
  for (int64_t row = 0; row < k; ++row) {
    for (int64_t col = 0; col < n; ++col) {
      data[trans_b ? col * k + row : row * n + col] *= bn.factor[col];
    }
  }
  Tensor new_c = Tensor::empty(DType::kFloat32, {n});
  for (int64_t col = 0; col < n; ++col) {
    const float bias = c ? beta * c->data<float>()[c->numel() == 1 ? 0 : col] : 0.f;
    new_c.data<float>()[col] = bias * bn.factor[col] + bn.shift[col];
  }
  const std::string b_name = g.unique_name(gemm.input(1) + "_bn_folded");
  g.initializers[b_name] = std::move(new_b);
  const std::string c_name = g.unique_name(b_name + "_bias");
  g.initializers[c_name] = std::move(new_c);
  gemm.inputs.resize(3);
  gemm.inputs[1] = b_name;
  gemm.inputs[2] = c_name;
  gemm.set_attr("beta", 1.f);
  return true;
}

}  // namespace

int fold_batch_norms(Graph& graph) {
  int folded = 0;
  std::vector<bool> removed(graph.nodes.size(), false);
  GraphIndex index(graph);
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    Node& bn = graph.nodes[i];
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) continue;
    const int p = index.producer(bn.input(0));
    if (p < 0 || removed[p] || !index.single_use(bn.input(0))) continue;
    Node& producer = graph.nodes[p];
    if (!producer.domain.empty() || (producer.op_type != "Conv" && producer.op_type != "Gemm")) {
      continue;
    }
    auto params = constant_bn(bn, graph);
    if (!params) continue;
    const bool ok = producer.op_type == "Conv" ? fold_into_conv(producer, *params, graph)
                                               : fold_into_gemm(producer, *params, graph);
    if (!ok) continue;
    graph.values.erase(producer.outputs[0]);
    producer.outputs[0] = bn.outputs[0];
    removed[i] = true;
    ++folded;
  }
  if (folded) {
    std::vector<Node> kept;
    for (size_t i = 0; i < graph.nodes.size(); ++i) {
      if (!removed[i]) kept.push_back(std::move(graph.nodes[i]));
    }
    graph.nodes = std::move(kept);
    eliminate_dead_nodes(graph);
  }
  return folded;
}

}  // namespace quench

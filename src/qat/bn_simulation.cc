#include "qat/bn_simulation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/check.h"
#include "ir/graph_index.h"
#include "quench/passes.h"

namespace quench::qat {

namespace {

// prepare_for_quantization without fold_batch_norms: the same names up to the fold.
Graph unfolded_graph(const Model& fp32) {
  Graph g = fp32.graph;
  verify_graph(g);
  infer_shapes(g, InferOptions{true});
  fold_constants(g);
  eliminate_dead_nodes(g);
  return g;
}

const Tensor* float_initializer(const Graph& g, const std::string& name) {
  const Tensor* t = name.empty() ? nullptr : g.initializer(name);
  return t != nullptr && t->dtype() == DType::kFloat32 ? t : nullptr;
}

Node make_node(const std::string& name, const std::string& op, std::vector<std::string> inputs,
               std::string output) {
  Node n;
  n.name = name;
  n.op_type = op;
  n.inputs = std::move(inputs);
  n.outputs = {std::move(output)};
  return n;
}

// A Conv of the unfolded graph followed by the batch norm `bn` that the preparation folds:
// the node index of the Conv, or -1.
int folded_conv(const Graph& g, const GraphIndex& index, const Node& bn) {
  if (bn.op_type != "BatchNormalization" || !bn.domain.empty() || bn.inputs.size() < 5) return -1;
  if (bn.attr_int("training_mode", 0) != 0) return -1;
  for (size_t i = 1; i < bn.outputs.size(); ++i) {
    if (!bn.outputs[i].empty()) return -1;
  }
  const int p = index.producer(bn.input(0));
  if (p < 0 || !index.single_use(bn.input(0))) return -1;
  const Node& conv = g.nodes[static_cast<size_t>(p)];
  if (conv.op_type != "Conv" || !conv.domain.empty()) return -1;
  const Tensor* w = float_initializer(g, conv.input(1));
  if (w == nullptr || w->rank() < 3) return -1;
  for (int i = 1; i <= 4; ++i) {
    const Tensor* t = float_initializer(g, bn.input(i));
    if (t == nullptr || t->rank() != 1 || t->numel() != w->dim(0)) return -1;
  }
  if (conv.has_input(2) && float_initializer(g, conv.input(2)) == nullptr) return -1;
  return p;
}

}  // namespace

std::vector<SimulatedBn> simulate_batch_norm_folding(const Model& fp32, QatGraph& q) {
  const Graph unfolded = unfolded_graph(fp32);
  const GraphIndex index(unfolded);
  Graph& g = q.graph;
  std::vector<SimulatedBn> sims;
  std::vector<Node> added;
  std::set<std::string> dropped;  // outputs of nodes to remove
  for (const Node& bn : unfolded.nodes) {
    const int c = folded_conv(unfolded, index, bn);
    if (c < 0) continue;
    const Node& original = unfolded.nodes[static_cast<size_t>(c)];
    // The Conv of the training graph that now writes the batch norm's output, with the folded
    // weight and bias the preparation made.
    auto it = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
      return n.op_type == "Conv" && n.name == original.name && !n.outputs.empty() &&
             n.outputs[0] == bn.outputs[0] && n.inputs.size() == 3;
    });
    if (it == g.nodes.end()) continue;
    SimulatedBn s;
    s.conv = original.name;
    s.folded_bias = it->inputs[2];
    // A fake-quantized int32 bias ((126)) reads the folded bias, which here is recomputed from the
    // statistics at export: the fake quantizer and its scale product are dropped.
    std::vector<std::string> bias_quantizer;
    for (const Node& n : g.nodes) {
      if (n.op_type == "FakeQuantize" && !n.outputs.empty() && n.outputs[0] == s.folded_bias) {
        bias_quantizer = {n.outputs[0], n.inputs[1]};
        s.folded_bias = n.inputs[0];
      }
    }
    s.weight = original.input(1);
    s.bias = original.has_input(2) ? original.input(2) : "";
    s.gamma = bn.input(1);
    s.beta = bn.input(2);
    s.mean = bn.input(3);
    s.var = bn.input(4);
    s.epsilon = bn.attr_float("epsilon", 1e-5f);
    // The folded weight: the Conv's input, or the input of the FakeQuantize feeding it.
    std::string conv_weight = it->inputs[1];
    s.folded_weight = conv_weight;
    for (const Node& n : g.nodes) {
      if (!n.outputs.empty() && n.outputs[0] == conv_weight && n.op_type == "FakeQuantize") {
        s.folded_weight = n.inputs[0];
      }
    }
    // Shared tensors (a weight or batch norm used elsewhere) stay folded.
    bool free = g.initializer(s.folded_weight) != nullptr;
    for (const std::string& name : {s.weight, s.bias, s.gamma, s.beta, s.mean, s.var}) {
      if (!name.empty() && g.initializers.count(name)) free = false;
    }
    if (!free) continue;
    dropped.insert(bias_quantizer.begin(), bias_quantizer.end());
    for (const std::string& name : {s.weight, s.bias, s.gamma, s.beta, s.mean, s.var}) {
      if (!name.empty()) g.initializers[name] = unfolded.initializers.at(name).clone();
    }
    const Tensor& w = g.initializers.at(s.weight);
    const int64_t channels = w.dim(0);
    const int rank = w.rank();
    const std::string base = s.conv + "_bn_sim";
    // (107) σ_run = √(σ²_run + ε), f = γ / σ_run, w_fold = w · f (f along the output channels).
    const std::string eps = g.unique_name(base + "_epsilon");
    g.initializers[eps] = Tensor::scalar(s.epsilon);
    Shape weight_shape(static_cast<size_t>(rank), 1), output_shape(weight_shape);
    weight_shape[0] = channels;
    output_shape[1] = channels;
    const std::string wshape = g.unique_name(base + "_weight_shape");
    g.initializers[wshape] = Tensor::from_vector<int64_t>({rank}, weight_shape);
    const std::string oshape = g.unique_name(base + "_output_shape");
    g.initializers[oshape] = Tensor::from_vector<int64_t>({rank}, output_shape);
    const std::string var_eps = g.unique_name(base + "_var_eps");
    const std::string std_run = g.unique_name(base + "_std");
    const std::string factor = g.unique_name(base + "_factor");
    const std::string factor_w = g.unique_name(base + "_factor_w");
    const std::string w_fold = g.unique_name(base + "_w_fold");
    added.push_back(make_node(var_eps, "Add", {s.var, eps}, var_eps));
    added.push_back(make_node(std_run, "Sqrt", {var_eps}, std_run));
    added.push_back(make_node(factor, "Div", {s.gamma, std_run}, factor));
    added.push_back(make_node(factor_w, "Reshape", {factor, wshape}, factor_w));
    added.push_back(make_node(w_fold, "Mul", {s.weight, factor_w}, w_fold));
    // The fake quantizer (or the Conv) reads w_fold instead of the folded initializer.
    for (Node& n : g.nodes) {
      for (std::string& in : n.inputs) {
        if (in == s.folded_weight) in = w_fold;
      }
    }
    // (108) Conv without bias, rescaled by σ_run/γ, plus b, through the batch norm.
    const std::string raw = g.unique_name(base + "_conv");
    const std::string factor_y = g.unique_name(base + "_factor_y");
    const std::string unscaled = g.unique_name(base + "_unscaled");
    const std::string bn_output = it->outputs[0];
    it->inputs.resize(2);
    it->outputs[0] = raw;
    added.push_back(make_node(factor_y, "Reshape", {factor, oshape}, factor_y));
    added.push_back(make_node(unscaled, "Div", {raw, factor_y}, unscaled));
    std::string bn_input = unscaled;
    if (!s.bias.empty()) {
      const std::string bias_y = g.unique_name(base + "_bias_y");
      bn_input = g.unique_name(base + "_biased");
      added.push_back(make_node(bias_y, "Reshape", {s.bias, oshape}, bias_y));
      added.push_back(make_node(bn_input, "Add", {unscaled, bias_y}, bn_input));
    }
    Node norm = bn;
    norm.inputs = {bn_input, s.gamma, s.beta, s.mean, s.var};
    norm.outputs = {bn_output};
    added.push_back(norm);
    g.initializers.erase(s.folded_weight);
    g.initializers.erase(s.folded_bias);
    for (const std::string& v :
         {var_eps, std_run, factor, factor_w, w_fold, raw, factor_y, unscaled, bn_input}) {
      g.values.erase(v);
    }
    sims.push_back(s);
  }
  std::erase_if(g.nodes, [&](const Node& n) {
    return !n.outputs.empty() && dropped.count(n.outputs[0]) != 0;
  });
  for (const std::string& v : dropped) g.values.erase(v);
  g.nodes.insert(g.nodes.end(), added.begin(), added.end());
  topological_sort(g);
  return sims;
}

std::vector<std::string> trained_parameters(const QatGraph& q,
                                            const std::vector<SimulatedBn>& sims) {
  std::set<std::string> folded;
  for (const SimulatedBn& s : sims) folded.insert({s.folded_weight, s.folded_bias});
  std::vector<std::string> params;
  for (const std::string& name : q.weights) {
    if (!folded.count(name)) params.push_back(name);
  }
  for (const SimulatedBn& s : sims) {
    for (const std::string& name : {s.weight, s.bias, s.gamma, s.beta}) {
      if (!name.empty()) params.push_back(name);
    }
  }
  return params;
}

void fold_simulated(const std::vector<SimulatedBn>& sims,
                    const std::map<std::string, Tensor>& parameters,
                    const std::map<std::string, Tensor>& buffers,
                    std::map<std::string, Tensor>& values) {
  const auto get = [](const std::map<std::string, Tensor>& from, const std::string& name) {
    auto it = from.find(name);
    QUENCH_CHECK(it != from.end(), ErrorKind::kInternal,
                 "simulated batch-norm folding: no value for '{}'", name);
    return it->second;
  };
  for (const SimulatedBn& s : sims) {
    const Tensor w = get(parameters, s.weight);
    const float* gamma = get(parameters, s.gamma).data<float>();
    const float* beta = get(parameters, s.beta).data<float>();
    const float* mean = get(buffers, s.mean).data<float>();
    const float* var = get(buffers, s.var).data<float>();
    const float* bias = s.bias.empty() ? nullptr : get(parameters, s.bias).data<float>();
    const int64_t channels = w.dim(0);
    const int64_t per_channel = w.numel() / std::max<int64_t>(1, channels);
    Tensor folded_w = w.clone();
    Tensor folded_b = Tensor::empty(DType::kFloat32, {channels});
    for (int64_t c = 0; c < channels; ++c) {
      // (107) the factor in float as the training graph computes it (Add, Sqrt, Div), so that the
      // exported weights are the ones the fake quantizer saw.
      const float f = gamma[c] / std::sqrt(var[c] + s.epsilon);
      float* row = folded_w.data<float>() + c * per_channel;
      for (int64_t k = 0; k < per_channel; ++k) row[k] *= f;
      // (109) B = β + (b − μ_run) · γ / σ_run.
      folded_b.data<float>()[c] = beta[c] + ((bias ? bias[c] : 0.f) - mean[c]) * f;
    }
    values[s.folded_weight] = std::move(folded_w);
    values[s.folded_bias] = std::move(folded_b);
  }
}

}  // namespace quench::qat

#include "quant/quant_plan.h"

#include <fnmatch.h>

#include <algorithm>
#include <optional>

#include "core/check.h"
#include "ir/graph_index.h"
#include "passes/gelu_pattern.h"
#include "quant/dynamic_plan.h"

namespace quench::quant {
namespace {

// Ops whose output holds the same values as (a subset of) their data input: the output keeps the
// input's quantization parameters, so int8 data passes through unchanged.
const std::set<std::string>& data_movement_ops() {
  static const std::set<std::string> ops = {"MaxPool", "Reshape",   "Flatten",  "Transpose",
                                            "Squeeze", "Unsqueeze", "Identity", "Slice"};
  return ops;
}

bool is_compute(const std::string& op) { return op == "Conv" || op == "Gemm" || op == "MatMul"; }

bool is_float(const Graph& g, const std::string& value) {
  if (const Tensor* t = g.initializer(value)) return t->dtype() == DType::kFloat32;
  const ValueInfo* info = g.info(value);
  return info && info->dtype == DType::kFloat32;
}

bool matches(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
}

class Planner {
 public:
  Planner(const Graph& g, const QuantRecipe& r, PlanMode mode)
      : g_(g), r_(r), mode_(mode), index_(g) {}

  QuantPlan run() {
    QuantPlan plan;
    const size_t n = g_.nodes.size();
    plan.quantized.assign(n, false);
    plan.joins.assign(n, -1);
    plan.decisions.resize(n);
    check_recipe_names();
    check_weight_only();
    find_first_and_last();
    for (size_t i = 0; i < n; ++i) {
      const Node& node = g_.nodes[i];
      NodeDecision& d = plan.decisions[i];
      d.node = node.name;
      d.op_type = node.op_type;
      d.reason = skip_reason(i);
      plan.quantized[i] = d.reason.empty();
    }
    if (mode_ == PlanMode::kDynamic) {
      for (size_t i = 0; i < n; ++i) {
        if (plan.quantized[i]) quantize_dynamic_node(plan, i);
      }
      return plan;
    }
    mark_fused_activations(plan);
    mark_matmul_biases(plan);
    mark_gelus(plan);
    for (size_t i = 0; i < n; ++i) {
      if (plan.quantized[i]) quantize_node(plan, i);
    }
    return plan;
  }

 private:
  DType type_of(const Node& node) const {
    auto it = r_.node_overrides.find(node.name);
    if (it != r_.node_overrides.end() && it->second != "skip") {
      return it->second == "int8" || it->second == "s8" ? DType::kInt8 : DType::kUInt8;
    }
    return r_.activation_type;
  }

  void check_recipe_names() const {
    auto exists = [&](const std::string& pattern) {
      for (const Node& n : g_.nodes) {
        if (matches(pattern, n.name)) return true;
      }
      return false;
    };
    for (const auto& s : r_.skip_nodes) {
      if (s == "first" || s == "last") continue;
      QUENCH_CHECK(exists(s), ErrorKind::kInvalidArgument,
                   "the recipe skips '{}', which matches no node of the model (node names are "
                   "listed by `quench inspect --json`)",
                   s);
    }
    for (const auto& [name, _] : r_.node_overrides) {
      QUENCH_CHECK(exists(name), ErrorKind::kInvalidArgument,
                   "the recipe sets node '{}', which is not in the model", name);
    }
    for (const auto& [name, _] : r_.node_weight_bits) {
      QUENCH_CHECK(exists(name), ErrorKind::kInvalidArgument,
                   "the recipe sets the weight bits of node '{}', which is not in the model", name);
      QUENCH_CHECK(mode_ == PlanMode::kStatic, ErrorKind::kInvalidArgument,
                   "the recipe sets the weight bits of node '{}'; per-node weight bits apply to "
                   "static mode (dynamic mode stores 8-bit weights)",
                   name);
    }
  }

  // Weight-only quantization stores weights of Conv, Gemm and MatMul; an op type the recipe asks
  // for that has no weight to store is a mistake in the request, not a node to skip silently.
  void check_weight_only() const {
    if (!r_.weight_only) return;
    for (const auto& op : r_.op_types) {
      QUENCH_CHECK(is_compute(op), ErrorKind::kInvalidArgument,
                   "weight-only quantization stores the weights of Conv, Gemm and MatMul; the "
                   "recipe asks for {}, which has none (remove it from \"op_types\")",
                   op);
    }
  }

  // "first" and "last": the first and last Conv/Gemm/MatMul; in dynamic mode, the first and last
  // node with a constant weight, recurrent ones included.
  bool counts_as_layer(const Node& node) const {
    if (!node.domain.empty()) return false;
    if (mode_ == PlanMode::kStatic) return is_compute(node.op_type);
    return has_constant_weight(g_, node);
  }

  void find_first_and_last() {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      if (!counts_as_layer(g_.nodes[i])) continue;
      if (first_ < 0) first_ = static_cast<int>(i);
      last_ = static_cast<int>(i);
    }
  }

  // The constant input of a Min that bounds a Conv's Relu/Clip output per channel (the form
  // cross-layer equalization gives a ReLU6, eq. (85)): the Min joins the Conv's unit. -1 if none.
  int channel_bound_input(const Node& node) const {
    if (node.op_type != "Min" || !node.domain.empty() || node.inputs.size() != 2 ||
        mode_ != PlanMode::kStatic || r_.weight_only) {
      return -1;
    }
    for (int k = 0; k < 2; ++k) {
      const Tensor* bound = g_.initializer(node.input(k));
      if (bound == nullptr || bound->dtype() != DType::kFloat32) continue;
      const int act = index_.producer(node.input(1 - k));
      if (act < 0 || !index_.single_use(node.input(1 - k))) return -1;
      const Node& a = g_.nodes[act];
      if (a.op_type != "Relu" && a.op_type != "Clip") return -1;
      const int conv = index_.producer(a.input(0));
      return conv >= 0 && g_.nodes[conv].op_type == "Conv" ? k : -1;
    }
    return -1;
  }

  std::string skip_reason(size_t i) const {
    const Node& node = g_.nodes[i];
    const auto& ops = !r_.op_types.empty()          ? r_.op_types
                      : mode_ == PlanMode::kDynamic ? default_dynamic_ops()
                                                    : default_quantized_ops();
    const bool bound = channel_bound_input(node) >= 0;
    if (!node.domain.empty() || (ops.count(node.op_type) == 0 && !bound)) {
      return "op type not quantized";
    }
    if (r_.skip_op_types.count(node.op_type)) return "op type skipped by the recipe";
    if (r_.weight_only && !is_compute(node.op_type)) return "weight-only: no weights";
    auto it = r_.node_overrides.find(node.name);
    if (it != r_.node_overrides.end() && it->second == "skip") return "skipped by the recipe";
    for (const auto& s : r_.skip_nodes) {
      if (s == "first" && static_cast<int>(i) == first_) return "first layer kept in float";
      if (s == "last" && static_cast<int>(i) == last_) return "last layer kept in float";
      if (s != "first" && s != "last" && matches(s, node.name)) {
        return "skipped by the recipe ('" + s + "')";
      }
    }
    if (node.inputs.empty() || !is_float(g_, node.input(0))) return "no float input";
    bool has_activation = false;
    for (const auto& in : node.inputs) {
      has_activation |= !in.empty() && is_float(g_, in) && !g_.is_initializer(in);
    }
    if (!has_activation) return "all inputs are constants";
    if (node.op_type == "Conv" && !g_.is_initializer(node.input(1))) {
      return "weights are not constant";
    }
    if (r_.weight_only && !g_.is_initializer(node.input(1))) return "weights are not constant";
    if (mode_ == PlanMode::kDynamic) return dynamic_support(g_, node);
    if (node.op_type == "Clip") {
      for (size_t k = 1; k < node.inputs.size(); ++k) {
        if (node.has_input(k) && !g_.is_initializer(node.input(k))) return "bounds not constant";
      }
    }
    if (data_movement_ops().count(node.op_type) && g_.is_initializer(node.input(0))) {
      return "constant data";
    }
    return "";
  }

  // Conv/Gemm/MatMul/Add followed by Relu or Clip form one unit: no Q/DQ between them (as
  // PyTorch's fuse_modules does); so does a per-channel bound (Min) after a Conv's Relu/Clip.
  void mark_fused_activations(QuantPlan& plan) {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& act = g_.nodes[i];
      if (!plan.quantized[i] || (act.op_type != "Relu" && act.op_type != "Clip")) continue;
      const int p = index_.producer(act.input(0));
      if (p < 0 || !plan.quantized[p] || !index_.single_use(act.input(0))) continue;
      const std::string& op = g_.nodes[p].op_type;
      if (!is_compute(op) && op != "Add") continue;
      internal_.insert(act.input(0));
      plan.joins[i] = p;
      plan.decisions[i].reason = "fused with " + g_.nodes[p].describe();
    }
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const int k = channel_bound_input(g_.nodes[i]);
      if (!plan.quantized[i] || k < 0) continue;
      const std::string& value = g_.nodes[i].input(1 - k);
      const int act = index_.producer(value);
      if (!plan.quantized[act] || !internal_.count(g_.nodes[act].input(0))) {
        plan.quantized[i] = false;  // its Conv or activation stays float: so does the bound
        plan.decisions[i] = {g_.nodes[i].name, g_.nodes[i].op_type, false, "op type not quantized"};
        continue;
      }
      internal_.insert(value);
      plan.joins[i] = act;
      plan.decisions[i].reason = "fused with " + g_.nodes[act].describe() + " (per-channel bound)";
    }
  }

  // MatMul by a constant 2-D weight followed by the Add of a constant row [N] (a linear layer
  // as PyTorch exports it when the input has more than two dims) is one unit: no Q/DQ between
  // them, the bias stored as an int32 at the accumulator's scales (eq. (26)) as a Gemm's is, so
  // that every runtime adds the same bias (quench's makes it QFusedMatMul's int32 bias).
  void mark_matmul_biases(QuantPlan& plan) {
    for (size_t i = 0; i < g_.nodes.size(); ++i) {
      const Node& add = g_.nodes[i];
      if (!plan.quantized[i] || add.op_type != "Add" || add.inputs.size() != 2) continue;
      for (int k = 0; k < 2; ++k) {
        const Tensor* row = g_.initializer(add.input(k));
        const int p = index_.producer(add.input(1 - k));
        if (row == nullptr || row->dtype() != DType::kFloat32 || row->rank() != 1 || p < 0 ||
            !plan.quantized[p] || g_.nodes[p].op_type != "MatMul" ||
            !index_.single_use(add.input(1 - k))) {
          continue;
        }
        const Tensor* w = g_.initializer(g_.nodes[p].input(1));
        if (w == nullptr || w->rank() != 2 || w->dim(1) != row->dim(0)) continue;
        internal_.insert(add.input(1 - k));
        float_constants_.insert(add.input(k));
        matmul_biases_[static_cast<size_t>(p)] = {static_cast<int>(i), k};
        plan.joins[i] = p;
        plan.decisions[i].reason = "fused with " + g_.nodes[p].describe() + " (bias)";
        break;
      }
    }
  }

  // The exact GELU as PyTorch exports it, x -> Div(x, sqrt 2) -> Erf -> Add(1) -> Mul(x, .) ->
  // Mul(0.5), is one unit: x quantized once at its input, nothing inside (the runtime makes it one
  // 256-entry table, passes/fuse_gelu.cc). Its nodes are marked quantized so that the writer gives
  // them the dequantized x.
  void mark_gelus(QuantPlan& plan) {
    for (size_t e = 0; e < g_.nodes.size(); ++e) {
      const std::optional<GeluPattern> gelu = match_gelu(g_, index_, e);
      if (!gelu) continue;
      // Its Add and Muls quantized, and its Div and Erf too or left out only for their op type
      // (not named by the recipe).
      bool whole = true;
      for (size_t k = 0; k < gelu->nodes.size(); ++k) {
        const int node = gelu->nodes[k];
        whole &= plan.quantized[node] ||
                 (k < 2 && plan.decisions[node].reason == "op type not quantized" &&
                  !named_by_recipe(g_.nodes[node]));
      }
      if (!whole) continue;
      const int first = gelu->nodes[0];
      for (int node : gelu->nodes) {
        plan.quantized[node] = true;
        plan.joins[node] = node == first ? -1 : first;
        plan.decisions[node].reason = node == first
                                          ? "GELU, one unit"
                                          : "fused with " + g_.nodes[first].describe() + " (GELU)";
        gelu_inputs_[node] = gelu->x;
      }
    }
  }

  // Whether the recipe skips `node` by name (an override or a skip pattern).
  bool named_by_recipe(const Node& node) const {
    auto it = r_.node_overrides.find(node.name);
    if (it != r_.node_overrides.end() && it->second == "skip") return true;
    return std::any_of(r_.skip_nodes.begin(), r_.skip_nodes.end(), [&](const std::string& s) {
      return s != "first" && s != "last" && matches(s, node.name);
    });
  }

  std::string params_source(const std::string& value, const QuantPlan& plan) const {
    const int p = index_.producer(value);
    if (p >= 0 && plan.quantized[p] && data_movement_ops().count(g_.nodes[p].op_type)) {
      return params_source(g_.nodes[p].input(0), plan);
    }
    return value;
  }

  void add_activation(QuantPlan& plan, const std::string& value, DType type) {
    if (value.empty() || internal_.count(value) || !is_float(g_, value)) return;
    ActivationQuant a;
    a.type = type;
    a.constant = g_.is_initializer(value);
    a.params_from = a.constant ? value : params_source(value, plan);
    plan.activations.emplace(value, a);
  }

  void quantize_node(QuantPlan& plan, size_t i) {
    const Node& node = g_.nodes[i];
    const DType type = type_of(node);
    if (auto gelu = gelu_inputs_.find(i); gelu != gelu_inputs_.end()) {
      const bool reads_x =
          std::find(node.inputs.begin(), node.inputs.end(), gelu->second) != node.inputs.end();
      if (reads_x) add_activation(plan, gelu->second, type);
      return;
    }
    NodeQuant nq;
    nq.node = i;
    std::string how = fmt::format("{} activations", dtype_name(type));
    if (node.op_type == "Conv") {
      nq.weights.push_back({1, 0});
      if (node.has_input(2) && g_.is_initializer(node.input(2))) nq.bias_input = 2;
    } else if (node.op_type == "Gemm" || node.op_type == "MatMul") {
      const Tensor* b = g_.initializer(node.input(1));
      if (b != nullptr && b->dtype() == DType::kFloat32 && b->rank() >= 2) {
        const bool trans_b = node.op_type == "Gemm" && node.attr_int("transB", 0) != 0;
        nq.weights.push_back({1, trans_b ? 0 : b->rank() - 1});
        const Tensor* c =
            node.op_type == "Gemm" && node.has_input(2) ? g_.initializer(node.input(2)) : nullptr;
        const bool unit_scales =
            node.attr_float("alpha", 1.f) == 1.f && node.attr_float("beta", 1.f) == 1.f;
        if (c != nullptr && c->rank() == 1 && unit_scales) nq.bias_input = 2;
        if (auto m = matmul_biases_.find(i); m != matmul_biases_.end()) {
          nq.bias_node = m->second.first;
          nq.bias_node_input = m->second.second;
        }
      }
    }
    if (r_.weight_only) {
      nq.bias_input = nq.bias_node = nq.bias_node_input = -1;  // the bias is added in float
      how = "weight-only";
    }
    for (WeightInput& w : nq.weights) w.bits = r_.weight_bits_of(node.name);
    if (!nq.weights.empty()) {
      how += fmt::format(", int{} {} weights", nq.weights[0].bits,
                         r_.per_channel ? "per-channel" : "per-tensor");
    }
    if (nq.bias_input >= 0 || nq.bias_node >= 0) how += ", int32 bias";
    if (data_movement_ops().count(node.op_type)) how = "keeps its input's scale";
    if (plan.decisions[i].reason.empty()) plan.decisions[i].reason = how;
    if (r_.weight_only) {
      if (!nq.weights.empty()) plan.nodes.push_back(nq);
      return;
    }
    for (size_t k = 0; k < node.inputs.size(); ++k) {
      const bool weight = std::any_of(nq.weights.begin(), nq.weights.end(),
                                      [&](const WeightInput& w) { return w.input == k; });
      const bool data_input = !data_movement_ops().count(node.op_type) || k == 0;
      const bool clip_bound =
          (node.op_type == "Clip" && k > 0) || static_cast<int>(k) == channel_bound_input(node);
      if (weight || static_cast<int>(k) == nq.bias_input || !data_input || clip_bound ||
          float_constants_.count(node.inputs[k])) {
        continue;
      }
      add_activation(plan, node.inputs[k], type);
    }
    if (!nq.weights.empty() || nq.bias_input >= 0) plan.nodes.push_back(nq);
  }

  void quantize_dynamic_node(QuantPlan& plan, size_t i) {
    NodeQuant nq = dynamic_weights(g_.nodes[i]);
    nq.node = i;
    plan.decisions[i].reason = dynamic_description(g_.nodes[i], r_.per_channel);
    plan.nodes.push_back(nq);
  }

  const Graph& g_;
  const QuantRecipe& r_;
  PlanMode mode_;
  GraphIndex index_;
  std::set<std::string> internal_;
  std::set<std::string> float_constants_;  // a fused bias (no activation Q/DQ)
  // MatMul node -> the Add joined to it that adds its bias, and that Add's bias input.
  std::map<size_t, std::pair<int, int>> matmul_biases_;
  std::map<size_t, std::string> gelu_inputs_;  // the nodes of a GELU unit and its input x
  int first_ = -1, last_ = -1;
};

}  // namespace

std::set<std::string> QuantPlan::observed() const {
  std::set<std::string> out;
  for (const auto& [name, a] : activations) {
    if (!a.constant) out.insert(a.params_from);
  }
  return out;
}

QuantPlan plan_quantization(const Graph& prepared, const QuantRecipe& recipe, PlanMode mode) {
  return Planner(prepared, recipe, mode).run();
}

std::string describe_weight_bits(const QuantRecipe& recipe) {
  std::string d = fmt::format("{}-bit", recipe.weight_bits);
  if (!recipe.node_weight_bits.empty()) {
    d += fmt::format(" ({} node(s) with their own width)", recipe.node_weight_bits.size());
  }
  return d;
}

}  // namespace quench::quant

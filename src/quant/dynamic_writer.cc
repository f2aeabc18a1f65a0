// Dynamic quantization of MatMul, Gemm and Conv: the activation quantized at run time, the
// product on integers, and the result scaled back to float (eqs. (37), (65)-(67)); and the entry
// point that rewrites every node the plan selects.
#include <map>

#include "core/check.h"
#include "ops/domains.h"
#include "quant/dynamic_writer.h"
#include "quant/written_model_check.h"
#include "quench/passes.h"

namespace quench::quant {
namespace {

Tensor scales_tensor(const std::vector<float>& scales, Shape shape) {
  if (scales.size() == 1) return Tensor::scalar(scales[0]);
  return Tensor::from_vector<float>(std::move(shape), scales);
}

// float(A_q · B_q) scaled by s_A · s_B (eq. (66)) into `out` (or a value named from it, returned);
// B_q is int8 [K, N] with `scales` per column (or one).
std::string integer_matmul(DynamicBuilder& b, const Node& node, Tensor bq,
                           const std::vector<float>& scales, const std::string& out, bool exact) {
  const std::string at = node.name + "/";
  const int64_t n = bq.dim(1);
  const std::string weight = b.add_initializer(node.input(1) + "_quantized", std::move(bq));
  const std::string w_scale =
      b.add_initializer(node.input(1) + "_scale", scales_tensor(scales, {n}));
  const bool per_token = b.options().act_granularity == ActGranularity::kToken;
  const DynamicBuilder::Activation& a =
      per_token ? b.per_token(node.input(0)) : b.per_tensor(node.input(0));
  std::vector<std::string> inputs = {a.data, weight};
  if (!a.zero_point.empty()) inputs.push_back(a.zero_point);
  const std::string acc =
      b.add_node(at + "MatMulInteger", "MatMulInteger", inputs, out + "_int32", DType::kInt32);
  const std::string sums =
      b.add_node(at + "Cast", "Cast", {acc}, out + "_int32_float", DType::kFloat32, false,
                 {{"to", static_cast<int64_t>(DType::kFloat32)}});
  if (per_token) {
    const std::string rows =
        b.add_node(at + "Mul_rows", "Mul", {sums, a.scale}, out + "_rows", DType::kFloat32);
    return b.add_node(at + "Mul_columns", "Mul", {rows, w_scale}, out, DType::kFloat32, exact);
  }
  const std::string scale =
      b.add_node(at + "Mul_scales", "Mul", {a.scale, w_scale}, out + "_scale", DType::kFloat32);
  return b.add_node(at + "Mul", "Mul", {sums, scale}, out, DType::kFloat32, exact);
}

}  // namespace

void write_dynamic_matmul(DynamicBuilder& b, const Node& node) {
  WeightQuant q = b.weight(*b.graph().initializer(node.input(1)), 1);
  integer_matmul(b, node, std::move(q.quantized), q.scales, node.outputs[0], true);
}

// Y = alpha · A · B + beta · C: alpha joins B's scales, beta · C is added in float (eq. (67)).
void write_dynamic_gemm(DynamicBuilder& b, const Node& node) {
  const bool trans_b = node.attr_int("transB", 0) != 0;
  WeightQuant q = b.weight(*b.graph().initializer(node.input(1)), trans_b ? 0 : 1);
  Tensor bq = trans_b ? transposed_2d(q.quantized) : std::move(q.quantized);
  const float alpha = node.attr_float("alpha", 1.f);
  for (float& s : q.scales) s *= alpha;
  const std::string& y = node.outputs[0];
  if (!node.has_input(2)) {
    integer_matmul(b, node, std::move(bq), q.scales, y, true);
    return;
  }
  const std::string product =
      integer_matmul(b, node, std::move(bq), q.scales, y + "_product", false);
  const float beta = node.attr_float("beta", 1.f);
  std::string c = node.input(2);
  if (beta != 1.f) {
    if (const Tensor* constant = b.graph().initializer(c)) {
      Tensor scaled = Tensor::empty(DType::kFloat32, constant->shape());
      for (int64_t i = 0; i < constant->numel(); ++i) {
        scaled.data<float>()[i] = beta * constant->data<float>()[i];
      }
      c = b.add_initializer(c + "_times_beta", std::move(scaled));
    } else {
      const std::string factor = b.add_initializer(node.name + "_beta", Tensor::scalar(beta));
      c = b.add_node(node.name + "/Mul_beta", "Mul", {c, factor}, c + "_times_beta",
                     DType::kFloat32);
    }
  }
  b.add_node(node.name + "/Add", "Add", {product, c}, y, DType::kFloat32, true);
}

// ConvInteger with Conv's attributes; scales and bias broadcast as [M, 1, ...] over the output.
void write_dynamic_conv(DynamicBuilder& b, const Node& node) {
  const Tensor& w = *b.graph().initializer(node.input(1));
  WeightQuant q = b.weight(w, 0);
  const std::string at = node.name + "/";
  const std::string& y = node.outputs[0];
  Shape channel_shape(static_cast<size_t>(w.rank() - 1), 1);
  channel_shape[0] = w.dim(0);
  const std::string weight =
      b.add_initializer(node.input(1) + "_quantized", std::move(q.quantized));
  const std::string w_scale =
      b.add_initializer(node.input(1) + "_scale", scales_tensor(q.scales, channel_shape));
  const DynamicBuilder::Activation& a = b.per_tensor(node.input(0));
  Node conv;
  conv.op_type = "ConvInteger";
  conv.name = at + "ConvInteger";
  conv.inputs = {a.data, weight, a.zero_point};
  conv.outputs = {b.graph().unique_name(y + "_int32")};
  conv.attributes = node.attributes;
  b.graph().values[conv.outputs[0]] = ValueInfo{DType::kInt32, std::nullopt, ""};
  const std::string acc = conv.outputs[0];
  b.add(std::move(conv));
  const std::string sums =
      b.add_node(at + "Cast", "Cast", {acc}, y + "_int32_float", DType::kFloat32, false,
                 {{"to", static_cast<int64_t>(DType::kFloat32)}});
  const std::string scale =
      b.add_node(at + "Mul_scales", "Mul", {a.scale, w_scale}, y + "_scale", DType::kFloat32);
  const bool has_bias = node.has_input(2);
  const std::string scaled = b.add_node(at + "Mul", "Mul", {sums, scale},
                                        has_bias ? y + "_scaled" : y, DType::kFloat32, !has_bias);
  if (!has_bias) return;
  const Tensor& bias = *b.graph().initializer(node.input(2));
  const std::string bias_name =
      b.add_initializer(node.input(2) + "_channels", bias.clone().reshaped(channel_shape));
  b.add_node(at + "Add", "Add", {scaled, bias_name}, y, DType::kFloat32, true);
}

}  // namespace quench::quant

namespace quench {
namespace {

// "nothing to quantize" with the reasons the candidates were kept in float.
std::string nothing_to_quantize(const QuantizeReport& r) {
  std::map<std::string, std::map<std::string, int>> by_reason;
  for (const NodeDecision& d : r.nodes) {
    if (d.reason != "op type not quantized") ++by_reason[d.reason][d.op_type];
  }
  if (by_reason.empty()) {
    return "the model has nothing to quantize dynamically: no node of a type it quantizes "
           "(MatMul, Gemm, Conv, LSTM, GRU, or the recipe's op_types); no file written";
  }
  std::string why;
  for (const auto& [reason, ops] : by_reason) {
    for (const auto& [op, count] : ops) {
      why += fmt::format("{}{} {} ({})", why.empty() ? "" : "; ", count, op, reason);
    }
  }
  return fmt::format("the model has nothing to quantize dynamically: {}; no file written", why);
}

}  // namespace

const char* act_granularity_name(ActGranularity g) {
  return g == ActGranularity::kToken ? "token" : "tensor";
}

Model quantize_dynamic(const Model& prepared, const QuantRecipe& recipe,
                       const DynamicQuantOptions& options, QuantizeReport* report) {
  QuantizeReport local;
  QuantizeReport& r = report ? *report : local;
  r = QuantizeReport{};
  const quant::QuantPlan plan =
      quant::plan_quantization(prepared.graph, recipe, quant::PlanMode::kDynamic);
  r.nodes = plan.decisions;
  for (size_t i = 0; i < plan.decisions.size(); ++i) {
    r.nodes[i].quantized = plan.quantized[i];
    (plan.quantized[i] ? r.quantized_nodes : r.skipped_nodes)++;
  }
  QUENCH_CHECK(r.quantized_nodes > 0, ErrorKind::kInvalidArgument, "{}", nothing_to_quantize(r));

  Model m = prepared;
  Graph& g = m.graph;
  quant::DynamicBuilder b(g, recipe, options, r);
  std::vector<Node> kept;
  bool uses_ms_domain = false;
  for (size_t i = 0; i < prepared.graph.nodes.size(); ++i) {
    const Node& node = prepared.graph.nodes[i];
    if (!plan.quantized[i]) {
      kept.push_back(node);
      continue;
    }
    const std::string& op = node.op_type;
    const bool per_token = options.act_granularity == ActGranularity::kToken;
    if (op == "MatMul" || op == "Gemm") {
      op == "MatMul" ? quant::write_dynamic_matmul(b, node) : quant::write_dynamic_gemm(b, node);
      if (per_token) r.nodes[i].reason += ", s8 activations per token";
    } else if (op == "Conv") {
      quant::write_dynamic_conv(b, node);
    } else if (op == "LSTM") {
      quant::write_dynamic_lstm(b, node);
      uses_ms_domain = true;
    } else if (op == "GRU") {
      kept.push_back(quant::write_weight_only_gru(b, node));
    } else {
      fail(ErrorKind::kInternal, "dynamic quantization planned {} but has no writer for it",
           node.describe());
    }
  }
  g.nodes = std::move(kept);
  g.nodes.insert(g.nodes.end(), b.added().begin(), b.added().end());
  if (uses_ms_domain && g.opset(kMsDomain) == 0) g.opsets[kMsDomain] = 1;
  topological_sort(g);
  eliminate_dead_nodes(g);
  m.metadata.emplace_back("quench.quantization",
                          fmt::format("dynamic, activations per {}, {} weights",
                                      act_granularity_name(options.act_granularity),
                                      recipe.per_channel ? "per-channel" : "per-tensor"));
  quant::check_written_model(m, "the quantized model", r.notes);
  return m;
}

}  // namespace quench

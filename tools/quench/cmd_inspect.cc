// quench inspect MODEL: inputs/outputs, opsets, op histogram, parameters, unsupported ops, and for
// QDQ models what the session lowers to integer ops and what stays in float.
#include <filesystem>
#include <iostream>
#include <map>

#include "ops/op_registry.h"
#include "passes/runtime_passes.h"
#include "quench/cli.h"
#include "quench/model_io.h"
#include "quench/passes.h"

namespace quench::cli {
namespace {

struct InspectOptions {
  std::string model;
  bool json = false;
};

bool is_qdq(const Graph& g) {
  for (const Node& n : g.nodes) {
    if (n.domain.empty() && (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear")) {
      return true;
    }
  }
  return false;
}

// The lowering the session applies, on the graph it would plan for batch 1 (unknown input dims
// set to 1).
LoweringReport lowering_report(const Graph& model_graph) {
  Graph g = model_graph;
  verify_graph(g);
  topological_sort(g);
  infer_shapes(g, InferOptions{true});
  fold_constants(g);
  eliminate_dead_nodes(g);
  apply_graph_optimizations(g);
  std::map<std::string, Shape> shapes;
  for (const auto& name : g.inputs) {
    const ValueInfo* info = g.info(name);
    QUENCH_CHECK(info && info->shape, ErrorKind::kUnsupported, "input '{}' has no declared shape",
                 name);
    Shape shape;
    for (const Dim& d : *info->shape) shape.push_back(d.known() ? d.value : 1);
    shapes[name] = shape;
  }
  specialize_input_shapes(g, shapes);
  return lower_qdq(g);
}

void print_lowering(const Graph& g, nlohmann::json& j) {
  LoweringReport r;
  try {
    r = lowering_report(g);
  } catch (const Error& e) {
    std::cout << "lowering   not analysed: " << e.what() << "\n";
    j["lowering"] = {{"error", e.what()}};
    return;
  }
  std::cout << fmt::format("lowering   {} unit(s) to integer ops (planned at batch 1)\n", r.units);
  for (const auto& [label, count] : r.lowered) {
    std::cout << fmt::format("  {:<48} {}\n", label, count);
  }
  j["lowering"]["units"] = r.units;
  j["lowering"]["lowered"] = r.lowered;
  j["lowering"]["float_nodes"] = nlohmann::json::array();
  std::cout << fmt::format("float      {} node(s) stay in float\n", r.float_nodes.size());
  for (const auto& f : r.float_nodes) {
    std::cout << fmt::format("  {} ({}): {}\n", f.node, f.op_type, f.reason);
    j["lowering"]["float_nodes"].push_back(
        {{"node", f.node}, {"op", f.op_type}, {"reason", f.reason}});
  }
}

int run_inspect(const InspectOptions& o) {
  const Model model = load_model(o.model);
  const Graph& g = model.graph;
  nlohmann::json j;
  j["model"] = o.model;
  j["file_bytes"] = std::filesystem::file_size(o.model);
  j["ir_version"] = model.ir_version;
  j["producer"] = model.producer_name + " " + model.producer_version;
  for (const auto& [domain, version] : g.opsets)
    j["opsets"][domain.empty() ? "ai.onnx" : domain] = version;

  std::cout << fmt::format("model      {} ({})\n", o.model, human_bytes(j["file_bytes"]));
  std::cout << fmt::format("producer   {} {}, IR version {}\n", model.producer_name,
                           model.producer_version, model.ir_version);
  std::string opsets;
  for (const auto& [domain, version] : g.opsets) {
    opsets += fmt::format("{}{} {}", opsets.empty() ? "" : ", ",
                          domain.empty() ? "ai.onnx" : domain, version);
  }
  std::cout << "opsets     " << opsets << "\n";
  auto io = [&](const char* title, const std::vector<std::string>& names, const char* key) {
    std::cout << title << "\n";
    j[key] = nlohmann::json::array();
    for (const auto& name : names) {
      const ValueInfo* info = g.info(name);
      const DType dtype = info ? info->dtype : DType::kUndefined;
      const SymbolicShape shape = info && info->shape ? *info->shape : SymbolicShape{};
      std::cout << fmt::format("  {:<24} {:<8} {}\n", name, dtype_name(dtype), shape_str(shape));
      j[key].push_back(
          {{"name", name}, {"dtype", dtype_name(dtype)}, {"shape", shape_json(shape)}});
    }
  };
  io("inputs", g.inputs, "inputs");
  io("outputs", g.outputs, "outputs");

  std::map<std::string, int> histogram;
  for (const Node& n : g.nodes)
    histogram[n.domain.empty() ? n.op_type : n.domain + "." + n.op_type]++;
  std::cout << fmt::format("nodes      {}\n", g.nodes.size());
  for (const auto& [op, count] : histogram) std::cout << fmt::format("  {:<24} {}\n", op, count);
  j["nodes"] = g.nodes.size();
  j["ops"] = histogram;

  int64_t params = 0;
  uint64_t param_bytes = 0;
  for (const auto& [_, t] : g.initializers) {
    params += t.numel();
    param_bytes += t.nbytes();
  }
  std::cout << fmt::format("parameters {} in {} initializers ({})\n", params, g.initializers.size(),
                           human_bytes(param_bytes));
  j["parameters"] = params;
  j["parameter_bytes"] = param_bytes;

  j["unsupported"] = nlohmann::json::array();
  for (const Node& n : g.nodes) {
    const std::string why = unsupported_reason(n, g);
    if (why.empty()) continue;
    j["unsupported"].push_back({{"node", n.name},
                                {"op", n.op_type},
                                {"domain", n.domain.empty() ? "ai.onnx" : n.domain},
                                {"reason", why}});
  }
  if (j["unsupported"].empty()) {
    std::cout << "unsupported none: quench can run every node\n";
  } else {
    std::cout << fmt::format("unsupported {} node(s):\n", j["unsupported"].size());
    for (const auto& u : j["unsupported"]) {
      std::cout << fmt::format("  {} ({}): {}\n", u["node"].get<std::string>(),
                               u["op"].get<std::string>(), u["reason"].get<std::string>());
    }
  }
  if (j["unsupported"].empty() && is_qdq(g)) print_lowering(g, j);
  if (o.json) print_json(j);
  return 0;
}

}  // namespace

void add_inspect_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Describe a model: I/O, ops, parameters, support");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_inspect(*o); }; });
}

}  // namespace quench::cli

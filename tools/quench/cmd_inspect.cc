// quench inspect MODEL: inputs/outputs, opsets, op histogram, parameters, unsupported ops, every
// problem that keeps quench from running the model (exit code of the first), and for QDQ models
// what the session lowers to integer ops and what stays in float.
#include <filesystem>
#include <iostream>
#include <map>

#include "quench/cli.h"
#include "quench/inspect.h"
#include "quench/model_io.h"

namespace quench::cli {
namespace {

struct InspectOptions {
  std::string model;
  bool ops = false;
  bool json = false;
};

void print_lowering(const Graph& g, nlohmann::json& j) {
  LoweringReport r;
  try {
    r = qdq_lowering(g);
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

const char* error_kind_name(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return "invalid argument";
    case ErrorKind::kInvalidModel:
      return "invalid model";
    case ErrorKind::kUnsupported:
      return "unsupported";
    case ErrorKind::kIo:
      return "I/O";
    case ErrorKind::kResource:
      return "resource limit";
    case ErrorKind::kInterrupted:
      return "interrupted";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "unknown";
}

// The ops quench runs, one line each: domain, type, oldest opset, backends with a fast kernel.
int print_supported_ops(bool json) {
  nlohmann::json j = nlohmann::json::array();
  for (const OpSupport& op : supported_ops()) {
    std::string fast;
    for (const std::string& backend : op.fast_kernels) fast += (fast.empty() ? "" : ",") + backend;
    std::cout << fmt::format("{:<16} {:<28} opset {:<3} {}\n", op.domain, op.op_type,
                             op.since_opset, fast.empty() ? "reference" : fast);
    j.push_back({{"domain", op.domain},
                 {"op", op.op_type},
                 {"since_opset", op.since_opset},
                 {"fast_kernels", op.fast_kernels}});
  }
  if (json) print_json(j);
  return 0;
}

int run_inspect(const InspectOptions& o) {
  if (o.ops) return print_supported_ops(o.json);
  require(!o.model.empty(), ErrorKind::kInvalidArgument, "give a MODEL to inspect, or --ops");
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
  for (const UnsupportedNode& u : unsupported_nodes(g)) {
    j["unsupported"].push_back(
        {{"node", u.node}, {"op", u.op_type}, {"domain", u.domain}, {"reason", u.reason}});
  }
  if (j["unsupported"].empty()) {
    std::cout << "unsupported none: quench has a kernel for every node\n";
  } else {
    std::cout << fmt::format("unsupported {} node(s):\n", j["unsupported"].size());
    for (const auto& u : j["unsupported"]) {
      std::cout << fmt::format("  {} ({}): {}\n", u["node"].get<std::string>(),
                               u["op"].get<std::string>(), u["reason"].get<std::string>());
    }
  }
  const std::vector<GraphProblem> problems = model_problems(model);
  j["problems"] = nlohmann::json::array();
  for (const GraphProblem& p : problems) {
    j["problems"].push_back({{"kind", error_kind_name(p.kind)},
                             {"node", p.node},
                             {"value", p.value},
                             {"message", p.message}});
  }
  j["runnable"] = problems.empty();
  if (problems.empty()) {
    std::cout << "check      ok: verified, shapes inferred, planned for the declared input "
                 "shapes (unknown dims set to 1)\n";
    if (is_qdq_graph(g)) print_lowering(g, j);
  } else {
    std::cout << fmt::format("problems   {} problem(s): quench cannot run this model\n",
                             problems.size());
    for (const GraphProblem& p : problems) {
      std::cout << fmt::format("  [{}] {}\n", error_kind_name(p.kind), p.message);
    }
  }
  if (o.json) print_json(j);
  if (problems.empty()) return 0;
  // The first problem decides the exit code: structure, then unsupported ops, then the rest.
  std::fflush(stdout);
  std::cerr << fmt::format(
      "quench: error: {}{}\n", problems.front().message,
      problems.size() > 1
          ? fmt::format(" (and {} more problem(s), listed above)", problems.size() - 1)
          : "");
  return exit_code(problems.front().kind);
}

}  // namespace

void add_inspect_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<InspectOptions>();
  CLI::App* cmd = app.add_subcommand("inspect", "Describe a model: I/O, ops, parameters, support");
  cmd->add_option("model", o->model, "ONNX model file");
  cmd->add_flag("--ops", o->ops, "List the ops quench runs (and their fast kernels) instead");
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_inspect(*o); }; });
}

}  // namespace quench::cli

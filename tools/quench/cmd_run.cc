// quench run MODEL --input X.npy --output Y.npy: one inference on .npy tensors.
#include <iostream>

#include "quench/cli.h"
#include "quench/files.h"

namespace quench::cli {
namespace {

struct RunOptions {
  std::string model;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  int threads = 0;
  bool json = false;
};

// float64 data for a float32 input is converted (NumPy's default float type); any other
// mismatch is an error.
Tensor to_input_type(Tensor t, const IoInfo& io, const std::string& file) {
  if (t.dtype() == io.dtype) return t;
  require(t.dtype() == DType::kFloat64 && io.dtype == DType::kFloat32, ErrorKind::kInvalidArgument,
          "{} holds {} data, but input '{}' expects {}", file, dtype_name(t.dtype()), io.name,
          dtype_name(io.dtype));
  Tensor f = Tensor::empty(DType::kFloat32, t.shape());
  const double* src = t.data<double>();
  float* dst = f.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) dst[i] = static_cast<float>(src[i]);
  return f;
}

int run_run(const RunOptions& o) {
  for (const auto& out : o.outputs) check_writable(out, "output");
  std::vector<Tensor> arrays;
  for (const auto& file : o.inputs) arrays.push_back(read_npy(file));
  Session session = Session::load(o.model, session_options(o.threads));
  require(o.inputs.size() == session.inputs().size(), ErrorKind::kInvalidArgument,
          "the model has {} input(s); give one --input per input, in order (got {})",
          session.inputs().size(), o.inputs.size());
  require(o.outputs.size() <= session.outputs().size(), ErrorKind::kInvalidArgument,
          "the model has {} output(s); got {} --output", session.outputs().size(),
          o.outputs.size());
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < o.inputs.size(); ++i) {
    inputs.push_back(to_input_type(std::move(arrays[i]), session.inputs()[i], o.inputs[i]));
  }
  const std::vector<Tensor> outputs = session.run(inputs);
  nlohmann::json j{{"model", o.model}, {"outputs", nlohmann::json::array()}};
  for (size_t i = 0; i < outputs.size(); ++i) {
    const std::string& name = session.outputs()[i].name;
    const std::string file = i < o.outputs.size() ? o.outputs[i] : "";
    if (!file.empty()) write_npy(outputs[i], file);
    std::cout << fmt::format("{} {} {}{}\n", name, dtype_name(outputs[i].dtype()),
                             shape_str(outputs[i].shape()), file.empty() ? "" : " -> " + file);
    j["outputs"].push_back({{"name", name},
                            {"dtype", dtype_name(outputs[i].dtype())},
                            {"shape", outputs[i].shape()},
                            {"file", file}});
  }
  if (o.json) print_json(j);
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a model on .npy inputs, write .npy outputs");
  cmd->add_option("model", o->model, "ONNX model file")->required();
  cmd->add_option("--input,-i", o->inputs, "Input .npy (repeat for each input, in order)")
      ->required();
  cmd->add_option("--output,-o", o->outputs, "Output .npy (repeat for more outputs, in order)");
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_run(*o); }; });
}

}  // namespace quench::cli

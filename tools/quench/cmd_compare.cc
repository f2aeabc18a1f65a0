// quench compare A B --data SPEC: how far B strays from A, tensor by tensor and at the outputs.
#include <cmath>
#include <iostream>

#include "quench/cli.h"
#include "quench/compare.h"
#include "quench/model_io.h"

namespace quench::cli {
namespace {

struct CompareCmdOptions {
  std::string a, b;
  std::string data = "fmnist:test";
  int64_t limit = 0;
  int64_t batch = 64;
  int threads = 0;
  bool json = false;
  DataCliOptions data_options;
};

std::string db(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return fmt::format("{:.2f}", v);
}

nlohmann::json row_json(const TensorComparison& c) {
  // JSON has no infinity: an exact match (no error at all) has "sqnr_db": null.
  return {{"name", c.name},
          {"b_name", c.b_name},
          {"elements", c.elements},
          {"sqnr_db", std::isfinite(c.sqnr_db) ? nlohmann::json(c.sqnr_db) : nlohmann::json()},
          {"cosine", c.cosine},
          {"mse", c.mse},
          {"max_abs", c.max_abs}};
}

int run_compare(const CompareCmdOptions& o) {
  const Model model_a = load_model(o.a);
  DataOptions dopts = o.data_options.to_options(model_a);
  dopts.limit = o.limit;
  auto data = open_dataset(o.data, dopts);
  const Model model_b = load_model(o.b);
  CompareOptions co;
  co.batch = o.batch;
  co.session = session_options(o.threads);
  const CompareResult r = compare_models(model_a, model_b, *data, co);

  std::cout << fmt::format("compared {} samples of {} in {:.2f} s\n", r.n, o.data, r.seconds);
  if (r.has_labels) {
    std::cout << fmt::format("accuracy A {:.2f}%  B {:.2f}%  ({:+.2f} points)\n",
                             100 * r.accuracy_a, 100 * r.accuracy_b,
                             100 * (r.accuracy_b - r.accuracy_a));
  }
  std::cout << fmt::format("{:<40} {:>9} {:>9} {:>11} {:>10} {:>8}\n", "output", "SQNR dB",
                           "cosine", "MSE", "max abs", "top-1");
  for (const OutputComparison& c : r.outputs) {
    std::cout << fmt::format(
        "{:<40} {:>9} {:>9.5f} {:>11.4e} {:>10.4g} {:>8}\n", c.name, db(c.sqnr_db), c.cosine, c.mse,
        c.max_abs,
        c.top1_agreement < 0 ? std::string("-") : fmt::format("{:.2f}%", 100 * c.top1_agreement));
  }
  if (r.tensors.empty()) {
    std::cout << "no shared tensors: B has no value matching one of A's (by name or through "
                 "quantization); outputs compared only\n";
  } else {
    std::cout << fmt::format("\n{} shared tensors, worst first\n", r.tensors.size());
    std::cout << fmt::format("{:<50} {:>9} {:>9} {:>11} {:>10}\n", "tensor", "SQNR dB", "cosine",
                             "MSE", "max abs");
    for (const TensorComparison& c : r.tensors) {
      std::cout << fmt::format("{:<50} {:>9} {:>9.5f} {:>11.4e} {:>10.4g}\n", c.name, db(c.sqnr_db),
                               c.cosine, c.mse, c.max_abs);
    }
  }
  if (o.json) {
    nlohmann::json tensors = nlohmann::json::array(), outputs = nlohmann::json::array();
    for (const TensorComparison& c : r.tensors) tensors.push_back(row_json(c));
    for (const OutputComparison& c : r.outputs) {
      nlohmann::json j = row_json(c);
      j["top1_agreement"] =
          c.top1_agreement < 0 ? nlohmann::json() : nlohmann::json(c.top1_agreement);
      outputs.push_back(std::move(j));
    }
    nlohmann::json j = {{"a", o.a},
                        {"b", o.b},
                        {"data", o.data},
                        {"n", r.n},
                        {"seconds", r.seconds},
                        {"tensors", tensors},
                        {"outputs", outputs}};
    if (r.has_labels) {
      j["accuracy_a"] = r.accuracy_a;
      j["accuracy_b"] = r.accuracy_b;
    }
    print_json(j);
  }
  return 0;
}

}  // namespace

void add_compare_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CompareCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "compare", "Per-tensor error (SQNR, cosine, MSE, max abs) of model B against model A");
  cmd->add_option("a", o->a, "Reference model (the float original)")->required();
  cmd->add_option("b", o->b, "Model compared with it (quantized, say)")->required();
  cmd->add_option("--data", o->data, "Dataset (fmnist:test, idx:..., npy:..., folder:...)")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Compare on at most N samples (0: all)");
  cmd->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_compare(*o); }; });
}

}  // namespace quench::cli

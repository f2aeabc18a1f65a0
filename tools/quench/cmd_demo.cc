// quench demo: the built-in default job on the bundled Fashion-MNIST model.
#include <filesystem>
#include <iostream>

#include "quench/benchmark.h"
#include "quench/cli.h"
#include "quench/evaluate.h"

#ifndef QUENCH_MODELS_DIR
#define QUENCH_MODELS_DIR "models"
#endif

namespace quench::cli {
namespace {

struct DemoOptions {
  std::string model = std::string(QUENCH_MODELS_DIR) + "/fmnist/cnn.onnx";
  std::string data = "fmnist:test";
  int64_t limit = 0;
  int threads = 1;
  bool json = false;
};

int run_demo(const DemoOptions& o) {
  std::cout << fmt::format("quench demo: {} on {}\n\n", o.model, o.data);
  Session session = Session::load(o.model, session_options(o.threads));
  DataOptions dopts;
  dopts.limit = o.limit;
  auto data = open_dataset(o.data, dopts);
  const EvalResult r = evaluate_accuracy(session, *data);
  LatencyOptions lo;
  lo.seconds = 1.0;
  auto latency = [&](int64_t batch) {
    const auto inputs = random_inputs(session, batch, std::nullopt);
    return measure_latency([&] { session.run(inputs); }, lo);
  };
  const LatencyStats b1 = latency(1), b32 = latency(32);
  const auto bytes = std::filesystem::file_size(o.model);
  std::cout << fmt::format("{:<10} {:>10} {:>12} {:>14} {:>14}\n", "model", "top-1", "size",
                           "b1 latency", "b32 latency");
  std::cout << fmt::format("{:<10} {:>9.2f}% {:>12} {:>11.3f} ms {:>11.3f} ms\n", "FP32",
                           100 * r.accuracy, human_bytes(bytes), b1.median_ms, b32.median_ms);
  std::cout << fmt::format(
      "\n{} test images, {} thread(s); latency is the median of repeated runs\n", r.n, o.threads);
  if (o.json) {
    print_json({{"model", o.model},
                {"fp32",
                 {{"accuracy", r.accuracy},
                  {"n", r.n},
                  {"bytes", bytes},
                  {"b1_ms", b1.median_ms},
                  {"b32_ms", b32.median_ms}}}});
  }
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand("demo", "Evaluate the bundled model: accuracy, size, latency");
  cmd->add_option("--model", o->model, "ONNX model file")->capture_default_str();
  cmd->add_option("--data", o->data, "Labeled test data")->capture_default_str();
  cmd->add_option("--limit", o->limit, "Evaluate at most N samples (0: all)");
  cmd->add_option("--threads", o->threads, "Threads")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_demo(*o); }; });
}

}  // namespace quench::cli

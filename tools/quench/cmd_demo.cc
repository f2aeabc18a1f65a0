// quench demo: the built-in default job. Quantizes the bundled Fashion-MNIST model (static PTQ,
// calibration on training images), then evaluates FP32 and INT8 side by side: top-1 on the test
// set, file size and latency.
#include <filesystem>
#include <iostream>

#include "quench/benchmark.h"
#include "quench/cli.h"
#include "quench/evaluate.h"
#include "quench/files.h"
#include "quench/model_io.h"

#ifndef QUENCH_MODELS_DIR
#define QUENCH_MODELS_DIR "models"
#endif

namespace quench::cli {
namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string model = std::string(QUENCH_MODELS_DIR) + "/fmnist/cnn.onnx";
  std::string data = "fmnist:test";
  std::string calib_data = "fmnist:train";
  CalibrationCliOptions calib;
  std::string save;  // where to keep the INT8 model; a temporary file when empty
  int64_t limit = 0;
  int threads = 1;
  bool json = false;
};

struct Measured {
  EvalResult eval;
  SizeAndLatency figures;
};

Measured measure(const fs::path& path, const DemoOptions& o, const char* label) {
  Session session = Session::load(path, session_options(o.threads));
  DataOptions dopts;
  dopts.limit = o.limit;
  auto data = open_dataset(o.data, dopts);
  std::cerr << fmt::format("evaluating {} on {}\n", label, o.data);
  Measured m;
  m.eval = evaluate_accuracy(session, *data);
  m.figures = measure_size_latency(path.string(), o.threads);
  return m;
}

nlohmann::json to_json(const Measured& m) {
  return {{"accuracy", m.eval.accuracy},
          {"n", m.eval.n},
          {"bytes", m.figures.bytes},
          {"b1_ms", m.figures.b1_ms},
          {"b32_ms", m.figures.b32_ms}};
}

int run_demo(const DemoOptions& o) {
  std::cout << fmt::format(
      "quench demo: {} quantized to INT8 (static, {} calibration samples from {}, {}), evaluated "
      "on {}\n\n",
      o.model, o.calib.calib_size, o.calib_data, o.calib.method, o.data);
  TempDir temp;  // removed on exit, also when interrupted by an error
  const fs::path int8_path = o.save.empty() ? temp.path() / "model.int8.onnx" : fs::path(o.save);
  if (!o.save.empty()) check_writable(o.save, "INT8 model");

  const QuantRecipe recipe;
  const Model prepared = prepare_for_quantization(load_model(o.model));
  auto calib_data = open_dataset(o.calib_data, {});
  CalibrateOptions co = o.calib.to_options();
  co.threads = o.threads;
  const CalibrationTable table = calibrate(prepared, *calib_data, recipe, co);
  warn_nonfinite(table);
  Model int8_model = quantize_static(prepared, table, recipe);
  int8_model.metadata.emplace_back("quench.command", command_line());
  save_model(int8_model, int8_path);

  const Measured fp32 = measure(o.model, o, "FP32");
  const Measured int8 = measure(int8_path, o, "INT8");

  std::cout << fmt::format("{:<8} {:>10} {:>12} {:>14} {:>14}\n", "model", "top-1", "size",
                           "b1 latency", "b32 latency");
  for (const auto& [label, m] : {std::pair{"FP32", &fp32}, std::pair{"INT8", &int8}}) {
    std::cout << fmt::format("{:<8} {:>9.2f}% {:>12} {:>11.3f} ms {:>11.3f} ms\n", label,
                             100 * m->eval.accuracy, human_bytes(m->figures.bytes),
                             m->figures.b1_ms, m->figures.b32_ms);
  }
  auto ratio = [](double a, double b) { return b > 0 ? a / b : 0.0; };
  std::cout << fmt::format(
      "{:<8} {:>+7.2f} pt {:>9.2f}x {:>12.2f}x {:>12.2f}x\n", "INT8 vs",
      100 * (int8.eval.accuracy - fp32.eval.accuracy),
      ratio(static_cast<double>(fp32.figures.bytes), static_cast<double>(int8.figures.bytes)),
      ratio(fp32.figures.b1_ms, int8.figures.b1_ms),
      ratio(fp32.figures.b32_ms, int8.figures.b32_ms));
  std::cout << fmt::format(
      "\n{} test images, {} thread(s); sizes are ONNX file sizes (x: times smaller); latency is "
      "the median of repeated runs on random input (x: times faster)\n",
      fp32.eval.n, o.threads);
  if (!o.save.empty()) std::cout << "wrote " << o.save << "\n";
  if (o.json) {
    print_json({{"model", o.model},
                {"calib_samples", table.samples},
                {"method", o.calib.method},
                {"fp32", to_json(fp32)},
                {"int8", to_json(int8)}});
  }
  return 0;
}

}  // namespace

void add_demo_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<DemoOptions>();
  CLI::App* cmd = app.add_subcommand(
      "demo", "Quantize the bundled model and compare FP32 and INT8: accuracy, size, latency");
  cmd->add_option("--model", o->model, "FP32 ONNX model")->capture_default_str();
  cmd->add_option("--data", o->data, "Labeled test data")->capture_default_str();
  cmd->add_option("--calib", o->calib_data, "Calibration data")->capture_default_str();
  add_calibration_options(*cmd, o->calib);
  cmd->add_option("--save", o->save, "Keep the INT8 model at this path");
  cmd->add_option("--limit", o->limit, "Evaluate at most N samples (0: all)");
  cmd->add_option("--threads", o->threads, "Threads")->capture_default_str();
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_demo(*o); }; });
}

}  // namespace quench::cli

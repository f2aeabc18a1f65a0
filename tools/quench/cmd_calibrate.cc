// quench calibrate MODEL --data D -o table.json: activation ranges as a reusable table.
// quench calibrate --merge a.json b.json ... -o all.json: tables of data shards combined.
#include <iostream>

#include "quench/cli.h"
#include "quench/files.h"
#include "quench/model_io.h"
#include "quench/quantize.h"

namespace quench::cli {
namespace {

struct CalibrateCmdOptions {
  std::string model;
  std::string data;
  std::string output;
  std::string trt_cache;
  std::vector<std::string> merge;
  CalibrationCliOptions calib;
  int64_t offset = 0;
  std::string recipe;
  std::vector<std::string> skip;
  int threads = 0;
  bool json = false;
  DataCliOptions data_options;
};

void print_table_summary(const CalibrationTable& t, const CalibrateCmdOptions& o) {
  std::cout << fmt::format("{} tensors, {} samples, method {} -> {}\n", t.observers.size(),
                           t.samples, calibration_method_name(t.config.method), o.output);
  warn_nonfinite(t);
  if (!o.trt_cache.empty()) std::cout << "TensorRT calibration cache -> " << o.trt_cache << "\n";
  if (o.json) {
    print_json({{"output", o.output},
                {"tensors", t.observers.size()},
                {"samples", t.samples},
                {"method", calibration_method_name(t.config.method)}});
  }
}

int run_calibrate(const CalibrateCmdOptions& o) {
  check_writable(o.output, "calibration table");
  if (!o.trt_cache.empty()) check_writable(o.trt_cache, "TensorRT cache");
  if (!o.merge.empty()) {
    require(o.model.empty() && o.data.empty(), ErrorKind::kInvalidArgument,
            "--merge combines tables; do not give a model or --data with it");
    CalibrationTable all = CalibrationTable::load(o.merge[0]);
    for (size_t i = 1; i < o.merge.size(); ++i) all.merge(CalibrationTable::load(o.merge[i]));
    all.save(o.output);
    if (!o.trt_cache.empty()) all.save_tensorrt_cache(o.trt_cache);
    print_table_summary(all, o);
    return 0;
  }
  require(!o.model.empty() && !o.data.empty(), ErrorKind::kInvalidArgument,
          "give a MODEL and --data (or --merge TABLES...)");
  const Model fp32 = load_model(o.model);
  DataOptions dopts = o.data_options.to_options(fp32);
  dopts.offset = o.offset;
  auto data = open_dataset(o.data, dopts);
  const QuantRecipe recipe = QuantRecipe::with_options(o.recipe, o.skip, {}, "", false);
  const Model prepared = prepare_for_quantization(fp32);
  CalibrateOptions co = o.calib.to_options();
  co.threads = o.threads;
  const CalibrationTable table = calibrate(prepared, *data, recipe, co);
  table.save(o.output);
  if (!o.trt_cache.empty()) table.save_tensorrt_cache(o.trt_cache);
  print_table_summary(table, o);
  return 0;
}

}  // namespace

void add_calibrate_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<CalibrateCmdOptions>();
  CLI::App* cmd =
      app.add_subcommand("calibrate", "Calibrate activation ranges into a table (or merge tables)");
  cmd->add_option("model", o->model, "ONNX model file (FP32)");
  cmd->add_option("--data", o->data, "Calibration data (fmnist:train, folder:DIR, ...)");
  cmd->add_option("-o,--output", o->output, "Calibration table to write (.json)")->required();
  cmd->add_option("--merge", o->merge, "Combine these tables (shards, in order) instead");
  cmd->add_option("--offset", o->offset, "Skip this many samples first (to calibrate a shard)");
  cmd->add_option("--trt-cache", o->trt_cache, "Also write a TensorRT calibration cache");
  cmd->add_option("--recipe", o->recipe, "Recipe JSON (which nodes are quantized)");
  cmd->add_option("--skip", o->skip, "Nodes kept in float (names, patterns, first, last)");
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  add_calibration_options(*cmd, o->calib);
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_calibrate(*o); }; });
}

}  // namespace quench::cli

// quench sensitivity MODEL --calib D --val D: per quantization unit, the score with only it
// quantized and with all but it quantized, ranked most sensitive first.
#include <cmath>
#include <iostream>

#include "quench/cli.h"
#include "quench/model_io.h"
#include "quench/sensitivity.h"

namespace quench::cli {
namespace {

struct SensitivityCmdOptions {
  std::string model;
  std::string calib_data;
  std::string val_data;
  std::string bits = "w8a8";
  int64_t limit = 0;
  int64_t batch = 64;
  int threads = 0;
  bool json = false;
  CalibrationCliOptions calib;
  DataCliOptions data_options;
};

nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

std::string show(double v, bool top1) {
  if (std::isnan(v)) return "-";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return top1 ? fmt::format("{:.2f}%", 100 * v) : fmt::format("{:.2f} dB", v);
}

int run_sensitivity(const SensitivityCmdOptions& o) {
  require(o.bits == "w8a8" || o.bits == "w4a8", ErrorKind::kInvalidArgument,
          "--bits expects w8a8 or w4a8, got '{}'", o.bits);
  require(o.limit >= 0, ErrorKind::kInvalidArgument, "--limit must be non-negative, got {}",
          o.limit);
  const Model fp32 = load_model(o.model);
  DataOptions dopts = o.data_options.to_options(fp32);
  auto calib = open_dataset(o.calib_data, dopts);
  dopts.limit = o.limit;
  auto val = open_dataset(o.val_data, dopts);
  SensitivityOptions so;
  so.weight_bits = o.bits == "w4a8" ? 4 : 8;
  so.calib = o.calib.to_options();
  so.calib.threads = o.threads;
  so.batch = o.batch;
  so.session = session_options(o.threads);
  MixedPrecisionTrials trials(fp32, *calib, *val, QuantRecipe{}, so);
  const SensitivityResult r = analyze_sensitivity(trials);
  const bool top1 = r.metric == "top1";
  const char* higher = so.weight_bits == 8 ? "float" : "8-bit weights";

  std::cout << fmt::format("{} units, {} on {} samples of {}; {} evaluations in {:.1f} s\n",
                           r.units.size(), top1 ? "top-1" : "output SQNR vs FP32", val->size(),
                           o.val_data, r.evaluations, r.seconds);
  std::cout << fmt::format("FP32 {}   all {} {}   none {} ({}) {}\n", show(r.baseline_fp32, top1),
                           o.bits, show(r.all_quantized, top1), o.bits, higher,
                           show(r.higher_precision, top1));
  std::cout << fmt::format("{:<4} {:<44} {:>6} {:>15} {:>15}\n", "rank", "unit", "nodes",
                           "only this " + o.bits, "all but this");
  for (size_t i = 0; i < r.units.size(); ++i) {
    const UnitSensitivity& u = r.units[i];
    std::cout << fmt::format("{:<4} {:<44} {:>6} {:>15} {:>15}\n", i + 1, u.unit.name,
                             u.unit.nodes.size(), show(u.only_quantized, top1),
                             show(u.all_but_this, top1));
  }
  if (o.json) {
    nlohmann::json units = nlohmann::json::array();
    for (const UnitSensitivity& u : r.units) {
      units.push_back({{"name", u.unit.name},
                       {"nodes", u.unit.nodes},
                       {"only_quantized", number(u.only_quantized)},
                       {"all_but_this", number(u.all_but_this)}});
    }
    print_json({{"model", o.model},
                {"bits", o.bits},
                {"metric", r.metric},
                {"samples", val->size()},
                {"baseline_fp32", number(r.baseline_fp32)},
                {"higher_precision", number(r.higher_precision)},
                {"all_quantized", number(r.all_quantized)},
                {"units", units},
                {"evaluations", r.evaluations},
                {"seconds", r.seconds}});
  }
  return 0;
}

}  // namespace

void add_sensitivity_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<SensitivityCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity", "Per quantization unit: accuracy with only it, and all but it, quantized");
  cmd->add_option("model", o->model, "ONNX model file (FP32)")->required();
  cmd->add_option("--calib", o->calib_data, "Calibration data (calibrated once)")->required();
  cmd->add_option("--val", o->val_data, "Validation data (labels: top-1; none: output SQNR)")
      ->required();
  cmd->add_option("--bits", o->bits, "w8a8 (units kept in float) or w4a8 (kept at 8-bit weights)")
      ->capture_default_str();
  cmd->add_option("--limit", o->limit, "Validation samples used (0: all)")->capture_default_str();
  cmd->add_option("--batch", o->batch, "Evaluation batch size")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  add_calibration_options(*cmd, o->calib);
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_sensitivity(*o); }; });
}

}  // namespace quench::cli

// quench quantize MODEL -o OUT: post-training quantization, static (a QDQ ONNX model from
// calibrated ranges) or dynamic (int8 weights, activations quantized at run time).
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>

#include "quench/cli.h"
#include "quench/files.h"
#include "quench/latency_aware.h"
#include "quench/lowbit_options.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "quench/sensitivity.h"

namespace quench::cli {
namespace {

struct QuantizeCmdOptions {
  std::string model;
  std::string output;
  std::string mode = "static";
  std::string calib_data;
  std::string table;
  CalibrationCliOptions calib;
  bool per_tensor = false;
  std::string act;
  std::string act_granularity;
  bool keep_io_types = true;
  std::vector<std::string> skip;
  std::vector<std::string> skip_ops;
  std::string recipe;
  int threads = 0;
  bool json = false;
  DataCliOptions data_options;
  LowBitOptions lowbit;
  double max_drop = -1;  // top-1 points; negative: no automatic mixed precision
  std::string val_data;
  int64_t val_limit = 0;
  bool latency_aware = false;
  int64_t latency_batch = 1;
};

// The exit code of --max-drop when even the highest precision misses the budget (docs/cli.md).
constexpr int kBudgetNotMet = 8;

// --max-drop's checks of the options (the recipe with the low-bit options applied).
void check_max_drop_options(const QuantizeCmdOptions& o, const QuantRecipe& recipe) {
  require(!o.val_data.empty(), ErrorKind::kInvalidArgument,
          "--max-drop needs labeled validation data (--val DATA) to measure top-1 against FP32");
  require(!o.calib_data.empty() && o.table.empty(), ErrorKind::kInvalidArgument,
          "--max-drop calibrates once and reuses the ranges in every trial: give --calib DATA "
          "(not --table)");
  require(o.max_drop >= 0, ErrorKind::kInvalidArgument,
          "--max-drop expects a non-negative number of top-1 points, got {}", o.max_drop);
  require(!o.lowbit.cle && o.lowbit.smoothquant < 0.f && o.lowbit.group_size == 0 &&
              !recipe.weight_only,
          ErrorKind::kUnsupported,
          "--max-drop searches over static models (w8a8, or w4a8 with --weights int4, with "
          "--gptq, --adaround or --bias-correction if asked); --cle, --smoothquant, --group-size "
          "and --weight-only are not supported with it yet");
}

std::unique_ptr<Dataset> open_validation(const QuantizeCmdOptions& o, const DataOptions& dopts) {
  DataOptions vopts = dopts;
  vopts.limit = o.val_limit;
  auto val = open_dataset(o.val_data, vopts);
  require(val->has_labels(), ErrorKind::kInvalidArgument,
          "--max-drop needs labeled validation data: {} has no labels, so top-1 against FP32 "
          "cannot be measured",
          o.val_data);
  return val;
}

SensitivityOptions sensitivity_options(const QuantizeCmdOptions& o, int weight_bits) {
  SensitivityOptions so;
  so.weight_bits = weight_bits;
  so.calib = o.calib.to_options();
  so.calib.threads = o.threads;
  so.session = session_options(o.threads);
  so.rounding = o.lowbit.rounding_options();
  return so;
}

// Prints --max-drop's result and adds its --json fields; sets `met`.
void report_mixed_precision(const QuantizeCmdOptions& o, const MixedPrecisionResult& r,
                            int weight_bits, int64_t val_samples, nlohmann::json& extra,
                            bool& met) {
  const char* higher = weight_bits == 8 ? "float" : "8-bit weights";
  std::cout << fmt::format(
      "mixed precision: FP32 top-1 {:.2f}% on {} samples, budget {} points (target {:.2f}%)\n",
      100 * r.sensitivity.baseline_fp32, val_samples, o.max_drop, 100 * r.target);
  if (r.sensitivity.units.empty()) {
    std::cout << fmt::format("  all {} units quantized: {:.2f}%: within the budget, no ranking\n",
                             r.units, 100 * r.sensitivity.all_quantized);
  } else {
    std::cout << fmt::format("  all {} units quantized: {:.2f}%; none: {:.2f}%\n", r.units,
                             100 * r.sensitivity.all_quantized,
                             100 * r.sensitivity.higher_precision);
  }
  nlohmann::json kept = nlohmann::json::array();
  for (const UnitSensitivity& u : r.kept) {
    std::cout << fmt::format("  kept at {}: {} (top-1 {:.2f}% with only it quantized)\n", higher,
                             u.unit.name, 100 * u.only_quantized);
    kept.push_back(
        {{"name", u.unit.name}, {"nodes", u.unit.nodes}, {"only_quantized", u.only_quantized}});
  }
  std::cout << fmt::format(
      "  {}: top-1 {:.2f}% with {} of {} units kept at {}; {} evaluations (ranking {}, search "
      "at most {}), {:.1f} s\n",
      r.met ? "budget met" : "budget NOT met even with every unit kept; best model written",
      100 * r.reached, r.kept.size(), r.units, higher, r.evaluations, r.sensitivity.evaluations,
      r.search_bound, r.seconds);
  met = r.met;
  extra["max_drop"] = o.max_drop;
  extra["budget_met"] = r.met;
  extra["fp32_top1"] = r.sensitivity.baseline_fp32;
  extra["top1"] = r.reached;
  extra["units"] = r.units;
  extra["kept_units"] = kept;
  extra["kept_at"] = higher;
  extra["evaluations"] = r.evaluations;
  extra["search_bound"] = r.search_bound;
  extra["seconds"] = r.seconds;
  extra["weight_bits"] = weight_bits;
}

// --max-drop: the fewest units kept at higher precision so that top-1 on --val stays within the
// budget (include/quench/sensitivity.h); sets `met`.
Model mixed_precision_cmd(const QuantizeCmdOptions& o, QuantRecipe recipe, const Model& fp32,
                          QuantizeReport& report, nlohmann::json& extra, bool& met) {
  o.lowbit.apply(recipe);
  check_max_drop_options(o, recipe);
  const DataOptions dopts = o.data_options.to_options(fp32);
  auto calib = open_dataset(o.calib_data, dopts);
  auto val = open_validation(o, dopts);
  MixedPrecisionResult r = quantize_mixed_precision(fp32, *calib, *val, recipe, o.max_drop,
                                                    sensitivity_options(o, recipe.weight_bits));
  report_mixed_precision(o, r, recipe.weight_bits, val->size(), extra, met);
  const char* higher = recipe.weight_bits == 8 ? "float" : "8-bit weights";
  // The written model as quantize_static reports it.
  report = r.report;
  report.notes.push_back(fmt::format("{} unit(s) kept at {} by --max-drop", r.kept.size(), higher));
  return std::move(r.model);
}

// --latency-aware (include/quench/latency_aware.h): every unit timed quantized and in float,
// the slower ones kept in float (eq. (117)), then --max-drop on the rest when given, then the
// model checked end to end against FP32 (eqs. (118)-(119)).
Model latency_aware_cmd(const QuantizeCmdOptions& o, const QuantRecipe& recipe, const Model& fp32,
                        QuantizeReport& report, nlohmann::json& extra, bool& met) {
  require(!o.calib_data.empty() && o.table.empty(), ErrorKind::kInvalidArgument,
          "--latency-aware calibrates once and builds every variant from the ranges: give --calib "
          "DATA (not --table)");
  QuantRecipe base = recipe;
  o.lowbit.apply(base);
  require(
      !o.lowbit.cle && o.lowbit.smoothquant < 0.f && o.lowbit.group_size == 0 && !base.weight_only,
      ErrorKind::kUnsupported,
      "--latency-aware times static models (w8a8, or w4a8 with --weights int4, with --gptq, "
      "--adaround or --bias-correction if asked) against float; --cle, --smoothquant, "
      "--group-size and --weight-only are not supported with it yet");
  if (o.max_drop >= 0) check_max_drop_options(o, base);
  const DataOptions dopts = o.data_options.to_options(fp32);
  auto calib = open_dataset(o.calib_data, dopts);
  std::unique_ptr<Dataset> val;
  if (o.max_drop >= 0) val = open_validation(o, dopts);
  LatencyAwareOptions lo;
  lo.batch = o.latency_batch;
  lo.max_drop_points = o.max_drop;
  lo.sensitivity = sensitivity_options(o, base.weight_bits);
  lo.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  LatencyAwareResult r = quantize_latency_aware(fp32, *calib, val.get(), base, lo);
  if (r.accuracy) {
    report_mixed_precision(o, *r.accuracy, base.weight_bits, val->size(), extra, met);
  }
  report = r.report;

  std::cout << fmt::format("latency-aware: keep float when int8 >= {} x float (batch {})\n",
                           kLatencyMargin, o.latency_batch);
  std::cout << fmt::format("  {:<44} {:>10} {:>10}  {}\n", "unit", "int8 ms", "float ms", "kept");
  nlohmann::json rows = nlohmann::json::array();
  for (size_t u = 0; u < r.units.size(); ++u) {
    const UnitLatency& l = r.units[u];
    std::cout << fmt::format("  {:<44} {:>10.4f} {:>10.4f}  {}\n", l.name, l.int8_ms, l.float_ms,
                             l.kept_float ? "float (" + r.kept_by[u] + ")" : "int8");
    rows.push_back(
        {{"name", l.name},
         {"int8_ms", l.int8_ms},
         {"float_ms", l.float_ms},
         {"group", r.group[u]},
         {"kept_float", l.kept_float},
         {"kept_by", l.kept_float ? nlohmann::json(r.kept_by[u]) : nlohmann::json(nullptr)}});
  }
  std::cout << fmt::format("  FP32 {:.4f} ms, result {:.4f} ms ({:.2f}x faster){}\n", r.fp32_ms,
                           r.result_ms, r.fp32_ms / r.result_ms,
                           r.fp32_written ? "; the FP32 model is written" : "");
  extra["latency"] = {{"units", rows},
                      {"model_fp32_ms", r.fp32_ms},
                      {"model_result_ms", r.result_ms},
                      {"margin", kLatencyMargin},
                      {"batch", o.latency_batch},
                      {"threads", o.threads},
                      {"fallback_rounds", r.fallback_rounds},
                      {"every_unit_quantized", r.every_unit_quantized},
                      {"fp32_written", r.fp32_written}};
  return std::move(r.model);
}

// Static: calibrate (or read a table), then write the QDQ model, with the low-bit options.
Model quantize_static_cmd(const QuantizeCmdOptions& o, QuantRecipe recipe, const Model& fp32,
                          QuantizeReport& report, nlohmann::json& extra) {
  o.lowbit.apply(recipe);
  require(!o.calib_data.empty() || !o.table.empty() || recipe.weight_only,
          ErrorKind::kInvalidArgument,
          "static quantization needs calibration data (--calib DATA) or a table (--table)");
  require(o.act_granularity.empty(), ErrorKind::kInvalidArgument,
          "--act-granularity applies to --mode dynamic only (static activations are calibrated "
          "per tensor)");
  o.lowbit.check_sources(!o.calib_data.empty(), !o.table.empty());
  std::unique_ptr<Dataset> data;
  if (!o.calib_data.empty()) data = open_dataset(o.calib_data, o.data_options.to_options(fp32));
  std::optional<CalibrationTable> table;
  if (!o.table.empty()) table = CalibrationTable::load(o.table);
  StaticQuantReport details;
  Model quantized =
      quantize_static_lowbit(fp32, recipe, data.get(), table ? &*table : nullptr, o.lowbit,
                             o.calib.to_options(), o.threads, &report, &details);
  for (const auto& line : details.lines) std::cout << line << "\n";
  warn_nonfinite(details.table);
  extra["method"] = calibration_method_name(details.table.config.method);
  extra["calib_samples"] = details.table.samples;
  extra["weight_bits"] = recipe.weight_bits;
  if (o.lowbit.group_size != 0) extra["group_size"] = o.lowbit.group_size;
  extra["rounding_seconds"] = o.lowbit.rounding() ? details.rounding.seconds : 0.0;
  return quantized;
}

// Dynamic: no calibration; activations are quantized from each batch at run time.
Model quantize_dynamic_cmd(const QuantizeCmdOptions& o, const QuantRecipe& recipe,
                           const Model& fp32, QuantizeReport& report, nlohmann::json& extra) {
  require(o.calib_data.empty() && o.table.empty(), ErrorKind::kInvalidArgument,
          "--mode dynamic takes its activation ranges from each batch at run time and uses no "
          "calibration data; drop {} (or use --mode static)",
          o.calib_data.empty() ? "--table" : "--calib");
  require(o.act.empty(), ErrorKind::kInvalidArgument,
          "--act does not apply to --mode dynamic: activations are u8 per tensor "
          "(--act-granularity tensor) or s8 per token (--act-granularity token)");
  DynamicQuantOptions options;
  if (o.act_granularity == "token") options.act_granularity = ActGranularity::kToken;
  extra["act_granularity"] = act_granularity_name(options.act_granularity);
  return quantize_dynamic(prepare_for_quantization(fp32), recipe, options, &report);
}

// fp16 / bf16: weights and activations stored in the half type; nothing to calibrate.
Model half_precision_cmd(const QuantizeCmdOptions& o, const QuantRecipe& recipe, const Model& fp32,
                         QuantizeReport& report, nlohmann::json& extra) {
  require(o.calib_data.empty() && o.table.empty(), ErrorKind::kInvalidArgument,
          "--mode {} converts weights and activations to a 16-bit float type and uses no "
          "calibration data; drop {}",
          o.mode, o.calib_data.empty() ? "--table" : "--calib");
  require(o.act.empty() && o.act_granularity.empty() && !o.per_tensor, ErrorKind::kInvalidArgument,
          "--act, --act-granularity and --per-tensor apply to int8 quantization, not to --mode {}",
          o.mode);
  HalfPrecisionOptions options;
  options.type = o.mode == "bf16" ? DType::kBFloat16 : DType::kFloat16;
  options.keep_io_types = o.keep_io_types;
  extra["keep_io_types"] = o.keep_io_types;
  return convert_to_half_precision(prepare_for_quantization(fp32), recipe, options, &report);
}

int run_quantize(const QuantizeCmdOptions& o) {
  const bool half = o.mode == "fp16" || o.mode == "bf16";
  require(o.mode == "static" || o.mode == "dynamic" || half, ErrorKind::kInvalidArgument,
          "--mode {}: expected static, dynamic, fp16 or bf16", o.mode);
  require(half || o.keep_io_types, ErrorKind::kInvalidArgument,
          "--keep-io-types applies to --mode fp16 and bf16 only");
  require(o.mode == "static" || !o.lowbit.any(), ErrorKind::kInvalidArgument,
          "--weights, --group-size, --accuracy-level, --weight-only, --int4-storage, --gptq, "
          "--gptq-target, --adaround, --bias-correction, --cle and --smoothquant apply to "
          "--mode static only");
  check_writable(o.output, "output model");
  const QuantRecipe recipe =
      QuantRecipe::with_options(o.recipe, o.skip, o.skip_ops, o.act, o.per_tensor);
  const Model fp32 = load_model(o.model);
  QuantizeReport report;
  nlohmann::json extra = nlohmann::json::object();
  bool met = true;
  require(o.max_drop < 0 || o.mode == "static", ErrorKind::kInvalidArgument,
          "--max-drop applies to --mode static only");
  require(o.max_drop >= 0 || o.val_data.empty(), ErrorKind::kInvalidArgument,
          "--val is the validation data of --max-drop; add --max-drop POINTS");
  require(!o.latency_aware || o.mode == "static", ErrorKind::kInvalidArgument,
          "--latency-aware applies to --mode static only");
  Model quantized = o.latency_aware       ? latency_aware_cmd(o, recipe, fp32, report, extra, met)
                    : o.max_drop >= 0     ? mixed_precision_cmd(o, recipe, fp32, report, extra, met)
                    : half                ? half_precision_cmd(o, recipe, fp32, report, extra)
                    : o.mode == "dynamic" ? quantize_dynamic_cmd(o, recipe, fp32, report, extra)
                                          : quantize_static_cmd(o, recipe, fp32, report, extra);
  quantized.metadata.emplace_back("quench.command", command_line());
  save_model(quantized, o.output);

  const uint64_t before = std::filesystem::file_size(o.model);
  const uint64_t after = std::filesystem::file_size(o.output);
  std::cout << fmt::format("quantized {} node(s), kept {} in float\n", report.quantized_nodes,
                           report.skipped_nodes);
  std::map<std::string, std::vector<std::string>> skipped;
  nlohmann::json skipped_json = nlohmann::json::array();
  for (const NodeDecision& d : report.nodes) {
    if (d.quantized) continue;
    skipped[d.reason].push_back(d.op_type);
    skipped_json.push_back({{"node", d.node}, {"op", d.op_type}, {"reason", d.reason}});
  }
  for (const auto& [reason, ops] : skipped) {
    std::map<std::string, int> count;
    for (const auto& op : ops) ++count[op];
    std::string list;
    for (const auto& [op, c] : count)
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", c, op);
    std::cout << fmt::format("  float: {} ({})\n", list, reason);
  }
  std::cout << fmt::format("{} activation tensors and {} weight tensors quantized\n",
                           report.activation_tensors, report.weight_tensors);
  std::cout << fmt::format(
      "size {} -> {} ({:.2f}x smaller); weights {} -> {}\n", human_bytes(before),
      human_bytes(after), static_cast<double>(before) / static_cast<double>(after),
      human_bytes(report.weight_bytes_before), human_bytes(report.weight_bytes_after));
  for (const auto& note : report.notes) std::cout << "note: " << note << "\n";
  std::cout << "wrote " << o.output << "\n";
  if (o.json) {
    nlohmann::json j = {{"model", o.model},
                        {"output", o.output},
                        {"mode", o.mode},
                        {"quantized_nodes", report.quantized_nodes},
                        {"skipped_nodes", report.skipped_nodes},
                        {"skipped", skipped_json},
                        {"activation_tensors", report.activation_tensors},
                        {"weight_tensors", report.weight_tensors},
                        {"bytes_before", before},
                        {"bytes_after", after},
                        {"notes", report.notes}};
    j.update(extra);
    print_json(j);
  }
  return met ? 0 : kBudgetNotMet;
}

}  // namespace

void add_quantize_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<QuantizeCmdOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize an FP32 model (static QDQ or dynamic)");
  cmd->add_option("model", o->model, "ONNX model file (FP32)")->required();
  cmd->add_option("-o,--output", o->output, "Quantized model to write")->required();
  cmd->add_option("--mode", o->mode,
                  "static (calibrated QDQ), dynamic (no calibration), fp16 or bf16 (16-bit floats)")
      ->capture_default_str();
  cmd->add_option("--keep-io-types", o->keep_io_types,
                  "fp16/bf16: keep the graph inputs and outputs float32 (true/false)")
      ->capture_default_str();
  cmd->add_option("--act-granularity", o->act_granularity,
                  "Dynamic mode: activations per tensor (u8, default) or per token (s8)")
      ->check(CLI::IsMember({"tensor", "token"}));
  cmd->add_option("--calib", o->calib_data, "Calibration data (fmnist:train, folder:DIR, ...)");
  cmd->add_option("--table", o->table, "Use this calibration table instead of calibrating");
  cmd->add_flag("--per-tensor", o->per_tensor, "Per-tensor weight scales (default per channel)");
  cmd->add_option("--act", o->act, "Activation type: u8 (default, asymmetric) or s8 (symmetric)");
  cmd->add_option("--skip", o->skip, "Nodes kept in float (names, patterns, first, last)");
  cmd->add_option("--skip-op", o->skip_ops, "Op types kept in float");
  cmd->add_option("--recipe", o->recipe, "Recipe JSON (per-node overrides)");
  cmd->add_option("--threads", o->threads, "Threads (0: all cores)")->capture_default_str();
  add_calibration_options(*cmd, o->calib);
  add_data_options(*cmd, o->data_options);
  add_lowbit_options(*cmd, o->lowbit);
  cmd->add_option("--max-drop", o->max_drop,
                  "Automatic mixed precision: keep the fewest units at higher precision so that "
                  "top-1 on --val stays within this many points of FP32");
  cmd->add_option("--val", o->val_data, "Labeled validation data of --max-drop");
  cmd->add_option("--val-limit", o->val_limit, "Validation samples used by --max-drop (0: all)");
  CLI::Option* latency_aware =
      cmd->add_flag("--latency-aware", o->latency_aware,
                    "Time each unit quantized and in float in quench's runtime, keep the slower "
                    "ones in float, and never write a model slower than FP32");
  cmd->add_option("--latency-batch", o->latency_batch, "Batch timed by --latency-aware")
      ->capture_default_str()
      ->needs(latency_aware);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_quantize(*o); }; });
}

}  // namespace quench::cli

// quench quantize MODEL -o OUT: static post-training quantization to a QDQ ONNX model.
#include <filesystem>
#include <iostream>
#include <map>

#include "quench/cli.h"
#include "quench/files.h"
#include "quench/lowbit_options.h"
#include "quench/model_io.h"
#include "quench/quantize.h"

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
  std::vector<std::string> skip;
  std::vector<std::string> skip_ops;
  std::string recipe;
  int threads = 0;
  bool json = false;
  DataCliOptions data_options;
  LowBitCliOptions lowbit;
};

int run_quantize(const QuantizeCmdOptions& o) {
  require(o.mode == "static", ErrorKind::kUnsupported,
          "--mode {}: only static quantization is available so far", o.mode);
  check_writable(o.output, "output model");
  QuantRecipe recipe = make_recipe(o.recipe, o.skip, o.skip_ops, o.act, o.per_tensor);
  o.lowbit.apply(recipe);
  require(!o.calib_data.empty() || !o.table.empty() || recipe.weight_only,
          ErrorKind::kInvalidArgument,
          "static quantization needs calibration data (--calib DATA) or a table (--table)");
  require(!(o.lowbit.cle || o.lowbit.smoothquant >= 0.f) || o.table.empty(),
          ErrorKind::kInvalidArgument,
          "--cle and --smoothquant change the model's ranges, so a table made before them does "
          "not fit; calibrate with --calib instead of --table");
  require(!o.lowbit.rounding() || !o.calib_data.empty(), ErrorKind::kInvalidArgument,
          "--gptq, --adaround and --bias-correction need calibration data (--calib DATA); a "
          "table gives activation ranges only");
  const Model fp32 = load_model(o.model);
  std::unique_ptr<Dataset> data;
  if (!o.calib_data.empty()) data = open_dataset(o.calib_data, o.data_options.to_options(fp32));
  Model prepared = prepare_for_quantization(fp32);
  o.lowbit.rewrite(prepared, data.get(), o.calib.to_options());
  CalibrationTable table;
  if (!o.table.empty()) {
    table = CalibrationTable::load(o.table);
  } else if (data) {
    CalibrateOptions co = o.calib.to_options();
    co.threads = o.threads;
    table = calibrate(prepared, *data, recipe, co);
  }
  warn_nonfinite(table);
  QuantizeReport report;
  WeightRoundingReport rounding;
  const Model quantized =
      o.lowbit.rounding()
          ? quantize_rounded(prepared, table, recipe, *data,
                             o.lowbit.rounding_options(o.calib.to_options(), o.threads), &report,
                             &rounding)
          : quantize_static(prepared, table, recipe, &report);
  save_model(quantized, o.output);
  for (const auto& note : rounding.notes) std::cout << "  note: " << note << "\n";
  if (o.lowbit.rounding()) {
    std::cout << fmt::format("weights of {} layer(s) chosen in {:.1f} s\n", rounding.layers,
                             rounding.seconds);
  }

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
  std::cout << "wrote " << o.output << "\n";
  if (o.json) {
    print_json({{"model", o.model},
                {"output", o.output},
                {"mode", o.mode},
                {"method", calibration_method_name(table.config.method)},
                {"calib_samples", table.samples},
                {"quantized_nodes", report.quantized_nodes},
                {"skipped_nodes", report.skipped_nodes},
                {"skipped", skipped_json},
                {"activation_tensors", report.activation_tensors},
                {"weight_tensors", report.weight_tensors},
                {"bytes_before", before},
                {"bytes_after", after},
                {"weight_bits", recipe.weight_bits},
                {"rounding_seconds", rounding.seconds}});
  }
  return 0;
}

}  // namespace

void add_quantize_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<QuantizeCmdOptions>();
  CLI::App* cmd = app.add_subcommand("quantize", "Quantize an FP32 model (QDQ ONNX output)");
  cmd->add_option("model", o->model, "ONNX model file (FP32)")->required();
  cmd->add_option("-o,--output", o->output, "Quantized model to write")->required();
  cmd->add_option("--mode", o->mode, "static")->capture_default_str();
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
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, &action] { action = [o] { return run_quantize(*o); }; });
}

}  // namespace quench::cli

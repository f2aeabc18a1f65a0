// quench qat MODEL --data D -o OUT.onnx: quantization-aware training from a PTQ start, exported
// as a standard QDQ model (docs/cli.md, docs/quantization.md (95)-(106)).
#include <iostream>

#include "quench/cli.h"
#include "quench/files.h"
#include "quench/model_io.h"
#include "quench/qat.h"
#include "quench/train.h"

namespace quench::cli {
namespace {

struct QatCmdOptions {
  std::string model;
  std::string data = "fmnist:train";
  std::string val;
  std::string calib_data;  // default: --data
  std::string output;
  std::string bits = "w8a8";
  std::string recipe;
  std::vector<std::string> skip;
  std::vector<std::string> skip_ops;
  std::string act;
  bool per_tensor = false;
  bool low_bit_ends = false;
  bool no_distill = false;
  bool json = false;
  bool lr_given = false;  // else chosen from --bits in run_qat
  QatOptions qat;
  CalibrationCliOptions calib;
  DataCliOptions data_options;
};

int run_qat(QatCmdOptions o) {
  // Under mpirun every process trains (data-parallel); rank 0 reports and writes.
  const bool root = train_process().rank == 0;
  if (root) check_writable(o.output, "output model");
  std::tie(o.qat.weight_bits, o.qat.activation_bits) = parse_qat_bits(o.bits);
  // Fine-tuning steps sized to how far the start is from a good low-bit model: an 8-bit start is
  // already within noise of FP32 (larger steps only perturb it), 4-bit activations need the
  // scales and weights to move furthest (docs/benchmarks.md, QAT accuracy).
  if (!o.lr_given) {
    o.qat.train.lr = o.qat.activation_bits < 8 ? 3e-4f : o.qat.weight_bits < 8 ? 1e-4f : 1e-5f;
  }
  check_train_options(o.qat.train);  // the checkpoint folder, before the data
  o.qat.distill = !o.no_distill;
  o.qat.keep_ends_8bit = !o.low_bit_ends;
  // Min-max ranges cost little at 8 bits; on a 16-level grid they leave most levels to rare
  // extremes, and the ranges that minimize the grid's error (eqs. (16)-(18)) start far closer.
  if (o.calib.method.empty()) o.calib.method = o.qat.activation_bits < 8 ? "mse" : "minmax";
  o.qat.calib = o.calib.to_options();
  o.qat.train.progress = o.qat.train.progress && root;
  o.qat.calib.progress = o.qat.train.progress;
  const QuantRecipe recipe =
      QuantRecipe::with_options(o.recipe, o.skip, o.skip_ops, o.act, o.per_tensor);
  const Model model = load_model(o.model);
  const DataOptions dopts = o.data_options.to_options(model);
  auto data = open_dataset(o.data, dopts);
  std::unique_ptr<Dataset> calib;
  if (!o.calib_data.empty()) calib = open_dataset(o.calib_data, dopts);
  std::unique_ptr<Dataset> val;
  if (!o.val.empty()) val = open_dataset(o.val, dopts);
  o.qat.on_start = [root](double accuracy) {
    if (!root) return;
    std::cout << fmt::format("PTQ start: validation accuracy {:.2f}%", 100.0 * accuracy)
              << std::endl;
  };
  o.qat.train.on_epoch = [root](const TrainEpoch& e) {
    if (root) print_epoch(e);
  };
  const QatResult r =
      quantization_aware_training(model, *data, calib ? *calib : *data, val.get(), recipe, o.qat);
  if (!root) return 0;
  Model out = r.model;
  out.metadata.emplace_back("quench.command", command_line());
  save_model(out, o.output);
  std::cout << fmt::format(
      "trained {} steps in {:.1f} s: loss {:.4f} -> {:.4f}; {} quantized "
      "node(s); wrote {}\n",
      r.steps, r.seconds, r.first_loss, r.last_loss, r.report.quantized_nodes, o.output);
  for (const auto& note : r.report.notes) std::cout << "note: " << note << "\n";
  if (o.json) {
    print_json({{"model", o.model},
                {"data", o.data},
                {"output", o.output},
                {"bits", o.bits},
                {"weight_bits", o.qat.weight_bits},
                {"activation_bits", o.qat.activation_bits},
                {"distill", o.qat.distill},
                {"fixed_scales", o.qat.fixed_scales},
                {"bn_fold", o.qat.bn_fold},
                {"int4_storage", o.qat.int4_storage},
                {"method", o.calib.method},
                {"lr", o.qat.train.lr},
                {"ptq_accuracy", r.ptq_accuracy},
                {"steps", r.steps},
                {"seconds", r.seconds},
                {"first_loss", r.first_loss},
                {"last_loss", r.last_loss},
                {"epochs", epochs_json(r.epochs)}});
  }
  return 0;
}

}  // namespace

void add_qat_command(CLI::App& app, Action& action) {
  auto o = std::make_shared<QatCmdOptions>();
  o->qat.train.lr = 1e-4f;
  o->qat.train.optimizer = "adamw";
  o->qat.train.weight_decay = 0.f;
  CLI::App* cmd = app.add_subcommand(
      "qat", "Quantization-aware training from a PTQ start, written as a QDQ model");
  cmd->add_option("model", o->model, "FP32 ONNX model file")->required();
  cmd->add_option("--data", o->data, "Labeled training data")->capture_default_str();
  cmd->add_option("--val", o->val,
                  "Labeled validation data (accuracy of the PTQ start and after "
                  "each epoch)");
  cmd->add_option("--calib", o->calib_data, "Calibration data of the PTQ start (default: --data)");
  cmd->add_option("-o,--output", o->output, "Quantized model (.onnx)")->required();
  cmd->add_option("--bits", o->bits, "Weight and activation bits: w8a8, w4a8, w4a4, w2a8, ...")
      ->capture_default_str();
  cmd->add_flag("--low-bit-ends", o->low_bit_ends,
                "Quantize the first and last layers to --bits too (default: 8 bits)");
  cmd->add_flag("--int4-storage", o->qat.int4_storage,
                "Store weights of 4 bits or fewer as ONNX INT4 initializers (opset 21)");
  cmd->add_flag("--fixed-scales", o->qat.fixed_scales,
                "Keep the PTQ scales and zero points (plain STE; default: learned, LSQ/LSQ+)");
  cmd->add_option("--bn-fold", o->qat.bn_fold,
                  "Conv+BatchNormalization: fold (folded before training) or simulate (batch "
                  "norm trained, weights quantized folded, frozen after --freeze-bn-after)")
      ->check(CLI::IsMember({"fold", "simulate"}))
      ->capture_default_str();
  cmd->add_flag("--no-distill", o->no_distill, "Cross-entropy only (no distillation)");
  cmd->add_option("--distill-weight", o->qat.distill_weight,
                  "Weight of the distillation term (0 to 1)")
      ->capture_default_str();
  cmd->add_option("--temperature", o->qat.temperature, "Distillation temperature")
      ->capture_default_str();
  cmd->add_option("--recipe", o->recipe, "Recipe JSON (per-node overrides and bit widths)");
  cmd->add_option("--skip", o->skip, "Nodes kept in float (names, patterns, first, last)");
  cmd->add_option("--skip-op", o->skip_ops, "Op types kept in float");
  cmd->add_option("--act", o->act, "Activation type: u8 (asymmetric) or s8 (symmetric)");
  cmd->add_flag("--per-tensor", o->per_tensor, "One weight scale per tensor");
  add_training_options(*cmd, o->qat.train);
  cmd->get_option("--lr")
      ->description(
          "Base learning rate (default: 1e-5 at 8-bit weights and activations, 1e-4 with weights "
          "below 8 bits, 3e-4 with activations below 8 bits)")
      ->default_str("");
  o->calib.method.clear();  // chosen from --bits in run_qat unless given
  add_calibration_options(*cmd, o->calib);
  cmd->get_option("--method")
      ->description(
          "Ranges of the PTQ start: minmax, movavg, percentile, entropy or mse (default: minmax; "
          "mse, for the activation grid's levels, with activations below 8 bits)");
  add_data_options(*cmd, o->data_options);
  cmd->add_flag("--json", o->json, "Print a JSON object as the last line");
  cmd->callback([o, cmd, &action] {
    o->lr_given = cmd->count("--lr") > 0;
    action = [o] { return run_qat(*o); };
  });
}

}  // namespace quench::cli

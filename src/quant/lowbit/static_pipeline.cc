// quantize_static_lowbit: the static pipeline with its low-bit steps (include/quench/lowbit.h).
#include <fmt/format.h>

#include "core/check.h"
#include "ops/domains.h"
#include "quant/int4_storage.h"
#include "quant/written_model_check.h"
#include "quench/lowbit.h"
#include "quench/passes.h"

namespace quench {

int parse_weight_bits(const std::string& text) {
  int bits = 0;
  size_t used = 0;
  if (text.rfind("int", 0) == 0 && text.size() > 3) {
    try {
      bits = std::stoi(text.substr(3), &used);
    } catch (const std::exception&) {
      used = 0;
    }
  }
  QUENCH_CHECK(used > 0 && used == text.size() - 3, ErrorKind::kInvalidArgument,
               "--weights expects int8, int4, int2 or another intN with N from 2 to 8, got '{}'",
               text);
  QUENCH_CHECK(
      bits != 1, ErrorKind::kUnsupported,
      "--weights int1: 1-bit weights are not supported; quench quantizes weights to 2 to 8 "
      "bits");
  QUENCH_CHECK(bits >= 2 && bits <= 8, ErrorKind::kInvalidArgument,
               "--weights {}: weights are quantized to 2 to 8 bits", text);
  return bits;
}

void LowBitOptions::apply(QuantRecipe& recipe) const {
  recipe.weight_bits = parse_weight_bits(weights);
  recipe.weight_only = recipe.weight_only || weight_only;
  if (group_size != 0) {
    QUENCH_CHECK(group_size > 0, ErrorKind::kInvalidArgument,
                 "--group-size expects a positive block size (32, 64 or 128), got {}", group_size);
    QUENCH_CHECK(weight_only, ErrorKind::kUnsupported,
                 "--group-size {}: blockwise weights are written as com.microsoft MatMulNBits, "
                 "which keeps activations in float; add --weight-only (blockwise weights with "
                 "quantized activations are not supported)",
                 group_size);
    QUENCH_CHECK(recipe.weight_bits == 4, ErrorKind::kUnsupported,
                 "--group-size {}: blockwise weights are 4-bit (MatMulNBits bits=4); use "
                 "--weights int4, got --weights {}",
                 group_size, weights);
    QUENCH_CHECK(!cle && smoothquant < 0.f, ErrorKind::kUnsupported,
                 "--group-size with --cle or --smoothquant is not supported");
  }
  QUENCH_CHECK(!int4_storage || parse_weight_bits(weights) <= 4, ErrorKind::kInvalidArgument,
               "--int4-storage stores 4-bit weights as ONNX INT4; it needs --weights int4 or "
               "fewer bits, got --weights {}",
               weights);
  QUENCH_CHECK(accuracy_level >= 0 && accuracy_level <= 4, ErrorKind::kInvalidArgument,
               "--accuracy-level expects 0 to 4 (MatMulNBits: 1 float32, 2 float16, 3 bfloat16, "
               "4 int8), got {}",
               accuracy_level);
  QUENCH_CHECK(
      accuracy_level == 0 || group_size != 0, ErrorKind::kInvalidArgument,
      "--accuracy-level {} is an attribute of com.microsoft MatMulNBits; add --weight-only "
      "--weights int4 --group-size B",
      accuracy_level);
  QUENCH_CHECK(!int4_storage || group_size == 0, ErrorKind::kInvalidArgument,
               "--int4-storage with --group-size: MatMulNBits already packs its 4-bit blocks");
  QUENCH_CHECK(!(gptq && adaround), ErrorKind::kInvalidArgument,
               "--gptq and --adaround both choose the integer weights; use one of them");
  QUENCH_CHECK(gptq_target == "float" || gptq_target == "quantized", ErrorKind::kInvalidArgument,
               "--gptq-target expects float or quantized, got '{}'", gptq_target);
  QUENCH_CHECK(gptq_target == "float" || gptq, ErrorKind::kInvalidArgument,
               "--gptq-target {} applies to --gptq; add --gptq", gptq_target);
  QUENCH_CHECK(gptq_target == "float" || group_size == 0, ErrorKind::kInvalidArgument,
               "--gptq-target quantized with --group-size: blockwise GPTQ reads the float "
               "model's inputs (MatMulNBits keeps activations in float), so its target is the "
               "float output already");
  QUENCH_CHECK(smoothquant < 0.f || smoothquant <= 1.f, ErrorKind::kInvalidArgument,
               "--smoothquant expects a migration strength in [0, 1], got {}", smoothquant);
  QUENCH_CHECK(adaround_iters > 0, ErrorKind::kInvalidArgument,
               "--adaround-iters must be positive, got {}", adaround_iters);
}

WeightRoundingOptions LowBitOptions::rounding_options() const {
  WeightRoundingOptions w;
  w.gptq = gptq;
  w.gptq_float_target = gptq_target == "float";
  w.adaround = adaround;
  w.adaround_iters = adaround_iters;
  w.bias_correction = bias_correction;
  return w;
}

void LowBitOptions::check_sources(bool has_data, bool has_table) const {
  QUENCH_CHECK(
      !(cle || smoothquant >= 0.f) || !has_table, ErrorKind::kInvalidArgument,
      "--cle and --smoothquant change the model's ranges, so a table made before them does "
      "not fit; calibrate with --calib instead of --table");
  QUENCH_CHECK(!(gptq || adaround) || has_data, ErrorKind::kInvalidArgument,
               "--gptq and --adaround need calibration data (--calib DATA); a table gives "
               "activation ranges only");
  QUENCH_CHECK(!(bias_correction && !has_data && group_size != 0), ErrorKind::kInvalidArgument,
               "--bias-correction with --group-size needs calibration data (--calib DATA): the "
               "form computed from BatchNormalization statistics corrects Conv/Gemm/MatMul "
               "layers of a static model, not MatMulNBits");
  QUENCH_CHECK(!(bias_correction && !has_data && cle), ErrorKind::kUnsupported,
               "--bias-correction without calibration data (the form computed from "
               "BatchNormalization statistics) cannot follow --cle, which rescales the "
               "normalized channels; give --calib DATA");
}

namespace {

// The float-model rewrites asked for (SmoothQuant, then CLE) on the prepared model.
void rewrite(Model& prepared, const Dataset* data, const LowBitOptions& o,
             const CalibrateOptions& calib, std::vector<std::string>& lines) {
  if (o.smoothquant >= 0.f) {
    QUENCH_CHECK(data != nullptr, ErrorKind::kInvalidArgument,
                 "--smoothquant needs calibration data (--calib DATA) for the activation ranges");
    SmoothQuantReport r;
    prepared = smooth_quant(prepared, *data, o.smoothquant, calib, &r);
    lines.push_back(fmt::format("smoothquant (alpha {}): {} norm output(s) into {} weight(s)",
                                o.smoothquant, r.norms, r.weights));
    for (const auto& note : r.notes) lines.push_back("  note: " + note);
  }
  if (!o.cle) return;
  EqualizationReport r;
  prepared = equalize_cross_layer(prepared, data, calib, &r);
  lines.push_back(fmt::format(
      "cross-layer equalization: {} pair(s) in {} sweep(s), {} Clip(s) given per-channel "
      "bounds, bias absorbed in {} pair(s)",
      r.pairs, r.sweeps, r.clips_split, r.absorbed_pairs));
  for (const auto& note : r.notes) lines.push_back("  note: " + note);
}

}  // namespace

namespace {

// Every MatMulNBits node gets the accuracy_level asked for (none when 0).
Model with_accuracy_level(Model m, int64_t level) {
  if (level == 0) return m;
  for (Node& node : m.graph.nodes) {
    if (node.op_type == "MatMulNBits" && node.domain == kMsDomain) {
      node.set_attr("accuracy_level", level);
    }
  }
  return m;
}

Model quantize_lowbit_steps(const Model& fp32, const QuantRecipe& recipe, const Dataset* data,
                            const CalibrationTable* table, const LowBitOptions& options,
                            const CalibrateOptions& calib, int threads, QuantizeReport* report,
                            StaticQuantReport& d) {
  Model prepared = prepare_for_quantization(fp32);
  if (options.group_size != 0 && options.rounding()) {
    WeightRoundingOptions w = options.rounding_options();
    w.calib_size = calib.calib_size;
    w.batch = calib.batch;
    w.threads = threads;
    w.progress = calib.progress;
    Model quantized = quantize_matmul_nbits_rounded(prepared, recipe, options.group_size, *data, w,
                                                    report, &d.rounding);
    d.lines.push_back(fmt::format("weights of {} layer(s) chosen in {:.1f} s", d.rounding.layers,
                                  d.rounding.seconds));
    return with_accuracy_level(std::move(quantized), options.accuracy_level);
  }
  if (options.group_size != 0) {
    return with_accuracy_level(quantize_matmul_nbits(prepared, recipe, options.group_size, report),
                               options.accuracy_level);
  }
  rewrite(prepared, data, options, calib, d.lines);
  if (table) {
    d.table = *table;
  } else if (data) {
    CalibrateOptions co = calib;
    co.threads = threads;
    d.table = calibrate(prepared, *data, recipe, co);
  }
  if (!options.rounding()) return quantize_static(prepared, d.table, recipe, report);
  if (data == nullptr) {  // bias correction alone (check_sources): the data-free form
    Model quantized =
        quantize_bias_corrected_analytic(fp32, prepared, d.table, recipe, report, &d.rounding);
    for (const auto& note : d.rounding.notes) d.lines.push_back("  note: " + note);
    d.lines.push_back(
        fmt::format("biases of {} layer(s) corrected from BatchNormalization statistics (no data)",
                    d.rounding.layers));
    return quantized;
  }
  WeightRoundingOptions w = options.rounding_options();
  w.calib_size = calib.calib_size;
  w.batch = calib.batch;
  w.threads = threads;
  w.progress = calib.progress;
  Model quantized = quantize_rounded(prepared, d.table, recipe, *data, w, report, &d.rounding);
  for (const auto& note : d.rounding.notes) d.lines.push_back("  note: " + note);
  d.lines.push_back(fmt::format("weights of {} layer(s) chosen in {:.1f} s", d.rounding.layers,
                                d.rounding.seconds));
  return quantized;
}

}  // namespace

Model quantize_static_lowbit(const Model& fp32, const QuantRecipe& recipe, const Dataset* data,
                             const CalibrationTable* table, const LowBitOptions& options,
                             const CalibrateOptions& calib, int threads, QuantizeReport* report,
                             StaticQuantReport* details) {
  options.check_sources(data != nullptr, table != nullptr);
  if (options.int4_storage) {
    Graph probe = fp32.graph;
    upgrade_opset(probe, 21);  // a model that cannot reach opset 21 is refused before any work
  }
  StaticQuantReport local;
  StaticQuantReport& d = details ? *details : local;
  Model quantized =
      quantize_lowbit_steps(fp32, recipe, data, table, options, calib, threads, report, d);
  if (options.int4_storage) {
    const quant::Int4StorageResult r = quant::store_weights_as_int4(quantized);
    if (report) report->weight_bytes_after -= r.bytes_before - r.bytes_after;
    d.lines.push_back(fmt::format(
        "{} weight tensor(s) stored as ONNX INT4/UINT4: {:.1f} KiB -> {:.1f} KiB (opset 21)",
        r.tensors, r.bytes_before / 1024.0, r.bytes_after / 1024.0));
    std::vector<std::string> notes;
    quant::check_written_model(quantized, "the INT4 model", notes);
    for (const auto& note : notes) d.lines.push_back("  note: " + note);
  }
  return quantized;
}

}  // namespace quench

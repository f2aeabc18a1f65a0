// quench.quantize, quench.sensitivity, quench.calibrate, quench.evaluate, quench.compare,
// quench.benchmark: the CLI's
// commands (tools/quench/cmd_*.cc) as functions returning the fields of the CLI's --json object.
// The keyword arguments and their defaults are in python/quench/__init__.py; this file checks them
// as the CLI does and calls the same library functions.
#include <fmt/format.h>
#include <malloc.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "array_dataset.h"
#include "convert.h"
#include "module.h"
#include "quench/benchmark.h"
#include "quench/compare.h"
#include "quench/evaluate.h"
#include "quench/files.h"
#include "quench/latency_aware.h"
#include "quench/lowbit.h"
#include "quench/model_io.h"
#include "quench/quantize.h"
#include "quench/sensitivity.h"

namespace quench::py {
namespace {

template <class... Args>
void require(bool condition, fmt::format_string<Args...> format, Args&&... args) {
  if (!condition) {
    throw Error(ErrorKind::kInvalidArgument, fmt::format(format, std::forward<Args>(args)...));
  }
}

// Preprocessing of data sources, as the CLI's --resize, --mean, --std, --channels, --layout and
// --random-shape.
struct DataArgs {
  std::optional<std::vector<int64_t>> resize;
  std::vector<float> mean;
  std::vector<float> std;
  int channels = 0;
  std::string layout = "nchw";
  std::vector<int64_t> random_shape;

  DataOptions to_options(const Model* model) const {
    DataOptions o;
    if (resize) {
      require(resize->size() == 2, "resize expects (H, W), got {} value(s)", resize->size());
      o.resize_height = (*resize)[0];
      o.resize_width = (*resize)[1];
    }
    o.mean = mean;
    o.std = std;
    o.channels = channels;
    require(layout == "nchw" || layout == "nhwc", "layout expects 'nchw' or 'nhwc', got '{}'",
            layout);
    o.layout = layout == "nhwc" ? DataLayout::kNHWC : DataLayout::kNCHW;
    o.random_shape = random_shape;
    if (!model || !o.random_shape.empty() || model->graph.inputs.empty()) return o;
    // random:N without a shape: the dims after the batch of the model's first input.
    const ValueInfo* info = model->graph.info(model->graph.inputs[0]);
    if (!info || !info->shape || info->shape->empty()) return o;
    Shape sample;
    for (size_t d = 1; d < info->shape->size(); ++d) {
      if (!(*info->shape)[d].known()) return o;
      sample.push_back((*info->shape)[d].value);
    }
    o.random_shape = sample;
    return o;
  }
};

// A data source from Python: a spec string ("fmnist:train"), samples [N, ...] (float32), or a dict
// of them per model input name (float32 or int64), collected by python/quench/_data.py, with
// optional int64 labels [N].
struct DataSource {
  std::string spec;
  std::unique_ptr<Dataset> dataset;
  std::string name;  // for messages and the returned dict
};

// Rows [offset, offset + limit) of `samples` (limit 0: to the end), without a copy.
Tensor select_rows(const Tensor& samples, int64_t offset, int64_t limit) {
  const int64_t n = samples.rank() > 0 ? samples.dim(0) : 0;
  const int64_t begin = std::min(offset, n);
  const int64_t end = limit > 0 ? std::min(n, begin + limit) : n;
  if (begin == 0 && end == n) return samples;
  Shape shape = samples.shape();
  shape[0] = end - begin;
  const int64_t row = n > 0 ? samples.numel() / n : 0;
  auto* base = static_cast<uint8_t*>(const_cast<void*>(samples.raw_data()));
  return Tensor::wrap(samples.dtype(), shape, base + storage_bytes(samples.dtype(), begin * row),
                      samples.storage());
}

DataSource open_source(nb::handle data, nb::handle labels, const DataArgs& args, const Model* model,
                       int64_t offset, int64_t limit, std::vector<nb::ndarray<nb::ro>>& keep) {
  DataSource s;
  if (nb::isinstance<nb::str>(data)) {
    s.spec = nb::cast<std::string>(data);
    s.name = s.spec;
    DataOptions o = args.to_options(model);
    o.offset = offset;
    o.limit = limit;
    s.dataset = open_dataset(s.spec, o);
    return s;
  }
  require(offset >= 0 && limit >= 0, "offset and limit must not be negative");
  std::vector<ArrayDataset::Input> inputs;
  if (nb::isinstance<nb::dict>(data)) {
    for (auto [key, value] : nb::borrow<nb::dict>(data)) {
      require(nb::isinstance<nb::str>(key),
              "data: the keys of a dict of inputs must be input names");
      const std::string name = nb::cast<std::string>(key);
      const std::string what = fmt::format("data['{}']", name);
      keep.push_back(as_ndarray(value, what));
      const DType type =
          dtype_from_dlpack(keep.back().dtype()) == DType::kInt64 ? DType::kInt64 : DType::kFloat32;
      inputs.push_back({name, tensor_from_array(keep.back(), type, what)});
    }
  } else {
    keep.push_back(as_ndarray(data, "data"));
    inputs.push_back({"", tensor_from_array(keep.back(), DType::kFloat32, "data")});
  }
  Tensor label_tensor;
  if (!labels.is_none()) {
    keep.push_back(as_ndarray(labels, "labels"));
    label_tensor = tensor_from_array(keep.back(), DType::kInt64, "labels");
  }
  // Checked on the whole arrays, then rows [offset, offset + limit) of each taken.
  ArrayDataset whole(inputs, {});
  require(labels.is_none() || (label_tensor.rank() == 1 && label_tensor.dim(0) == whole.size()),
          "labels: expected one label per sample ([{}]), got shape {}", whole.size(),
          shape_str(label_tensor.shape()));
  std::vector<int64_t> label_values;
  if (!labels.is_none()) {
    const Tensor l = select_rows(label_tensor, offset, limit);
    label_values.assign(l.data<int64_t>(), l.data<int64_t>() + l.numel());
  }
  for (ArrayDataset::Input& in : inputs) {
    in.samples = select_rows(in.samples, offset, limit);
    if (!s.name.empty()) s.name += ", ";
    s.name +=
        fmt::format("{}{}", in.name.empty() ? "" : in.name + " ", shape_str(in.samples.shape()));
  }
  s.name = fmt::format("<array {}>", s.name);
  s.dataset = std::make_unique<ArrayDataset>(std::move(inputs), std::move(label_values));
  return s;
}

CalibrateOptions calibrate_options(const std::string& method, double percentile, int64_t calib_size,
                                   int64_t calib_batch, int threads, bool progress) {
  CalibrateOptions o;
  o.observer.method = parse_calibration_method(method);
  require(percentile > 0 && percentile <= 100, "percentile must be in (0, 100], got {}",
          percentile);
  require(calib_size > 0 && calib_batch > 0, "calib_size and calib_batch must be positive");
  o.observer.percentile = percentile;
  o.calib_size = calib_size;
  o.batch = calib_batch;
  o.threads = threads;
  o.progress = progress;
  return o;
}

void warn_nonfinite(const CalibrationTable& table) {
  for (const auto& [name, observer] : table.observers) {
    if (observer.nonfinite() > 0) {
      const std::string message =
          fmt::format("tensor '{}': {} NaN/infinite values were left out of calibration", name,
                      observer.nonfinite());
      // -1: warnings are turned into errors (python -W error); raise that one.
      if (PyErr_WarnEx(PyExc_RuntimeWarning, message.c_str(), 1) != 0) throw nb::python_error();
    }
  }
}

struct QuantizeArgs {
  std::string model, output, mode, table, method;
  double percentile;
  int64_t calib_size, calib_batch;
  bool per_tensor;
  std::string act, act_granularity;
  bool keep_io_types;
  std::vector<std::string> skip, skip_op;
  std::string recipe;
  int threads;
  bool progress;
  LowBitOptions lowbit;
  double max_drop = -1;  // negative: no automatic mixed precision
  int64_t val_limit = 0;
  bool latency_aware = false;
  int64_t latency_batch = 1;
};

// A finite number, else None (the CLI's JSON null).
nb::object number(double v) { return std::isfinite(v) ? nb::cast(v) : nb::none(); }

// The fields --max-drop adds to the CLI's --json (tools/quench/cmd_quantize.cc).
void mixed_precision_fields(const MixedPrecisionResult& r, double max_drop, int weight_bits,
                            nb::dict& extra) {
  nb::list kept;
  for (const UnitSensitivity& u : r.kept) {
    nb::dict k;
    k["name"] = u.unit.name;
    k["nodes"] = u.unit.nodes;
    k["only_quantized"] = u.only_quantized;
    kept.append(k);
  }
  extra["max_drop"] = max_drop;
  extra["budget_met"] = r.met;
  extra["fp32_top1"] = r.sensitivity.baseline_fp32;
  extra["top1"] = r.reached;
  extra["units"] = r.units;
  extra["kept_units"] = kept;
  extra["kept_at"] = weight_bits == 8 ? "float" : "8-bit weights";
  extra["evaluations"] = r.evaluations;
  extra["search_bound"] = r.search_bound;
  extra["seconds"] = r.seconds;
  extra["weight_bits"] = weight_bits;
}

// The `latency` object --latency-aware adds to the CLI's --json.
nb::dict latency_fields(const LatencyAwareResult& r, int64_t batch, int threads) {
  nb::list rows;
  for (size_t u = 0; u < r.units.size(); ++u) {
    const UnitLatency& l = r.units[u];
    nb::dict row;
    row["name"] = l.name;
    row["int8_ms"] = l.int8_ms;
    row["float_ms"] = l.float_ms;
    row["group"] = r.group[u];
    row["kept_float"] = l.kept_float;
    row["kept_by"] = l.kept_float ? nb::cast(r.kept_by[u]) : nb::none();
    rows.append(row);
  }
  nb::dict j;
  j["units"] = rows;
  j["model_fp32_ms"] = r.fp32_ms;
  j["model_result_ms"] = r.result_ms;
  j["margin"] = kLatencyMargin;
  j["batch"] = batch;
  j["threads"] = threads;
  j["fallback_rounds"] = r.fallback_rounds;
  j["every_unit_quantized"] = r.every_unit_quantized;
  j["fp32_written"] = r.fp32_written;
  return j;
}

nb::dict quantize(const QuantizeArgs& a, nb::handle calib, nb::handle labels, nb::handle val,
                  nb::handle val_labels, const DataArgs& da) {
  const bool half = a.mode == "fp16" || a.mode == "bf16";
  require(a.mode == "static" || a.mode == "dynamic" || half,
          "mode '{}': expected 'static', 'dynamic', 'fp16' or 'bf16'", a.mode);
  require(half || a.keep_io_types, "keep_io_types applies to mode 'fp16' and 'bf16' only");
  require(
      a.act_granularity.empty() || a.act_granularity == "tensor" || a.act_granularity == "token",
      "act_granularity expects 'tensor' or 'token', got '{}'", a.act_granularity);
  require(a.mode == "static" || !a.lowbit.any(),
          "weights, group_size, accuracy_level, weight_only, gptq, gptq_target, adaround, "
          "bias_correction, cle and smoothquant apply to mode 'static' only");
  const bool has_calib = !calib.is_none();
  const bool max_drop = a.max_drop >= 0;
  require(a.max_drop < 0 || a.mode == "static", "max_drop applies to mode 'static' only");
  require(!a.latency_aware || a.mode == "static", "latency_aware applies to mode 'static' only");
  require(max_drop || val.is_none(), "val is the validation data of max_drop; add max_drop=POINTS");
  require(!max_drop || !val.is_none(),
          "max_drop needs labeled validation data (val=...) to measure top-1 against FP32");
  require(!(max_drop || a.latency_aware) || (has_calib && a.table.empty()),
          "max_drop and latency_aware calibrate once and build every variant from the ranges: "
          "give calib=... (not table=...)");
  require(a.val_limit >= 0, "val_limit must not be negative, got {}", a.val_limit);
  require(!(max_drop || a.latency_aware) || (!a.lowbit.cle && a.lowbit.smoothquant < 0.f &&
                                             a.lowbit.group_size == 0 && !a.lowbit.weight_only),
          "max_drop and latency_aware search over static models; cle, smoothquant, group_size "
          "and weight_only are not supported with them yet");
  check_writable(a.output, "output model");
  QuantRecipe recipe = QuantRecipe::with_options(a.recipe, a.skip, a.skip_op, a.act, a.per_tensor);
  if (a.mode == "static") a.lowbit.apply(recipe);
  std::vector<nb::ndarray<nb::ro>> keep;
  Model fp32;
  {
    nb::gil_scoped_release release;
    fp32 = load_model(a.model);
  }
  DataSource source;
  nb::dict extra;
  if (a.mode == "static") {
    require(has_calib || !a.table.empty() || a.lowbit.weight_only,
            "static quantization needs calibration data (calib=...) or a table (table=...)");
    require(a.act_granularity.empty(),
            "act_granularity applies to mode 'dynamic' only (static activations are calibrated "
            "per tensor)");
    a.lowbit.check_sources(has_calib, !a.table.empty());
    if (has_calib) source = open_source(calib, labels, da, &fp32, 0, 0, keep);
  } else if (a.mode == "dynamic") {
    require(!has_calib && a.table.empty(),
            "mode 'dynamic' takes its activation ranges from each batch at run time and uses no "
            "calibration data; drop {} (or use mode 'static')",
            has_calib ? "calib" : "table");
    require(a.act.empty(),
            "act does not apply to mode 'dynamic': activations are u8 per tensor "
            "(act_granularity 'tensor') or s8 per token (act_granularity 'token')");
  } else {
    require(!has_calib && a.table.empty(),
            "mode '{}' converts weights and activations to a 16-bit float type and uses no "
            "calibration data; drop {}",
            a.mode, has_calib ? "calib" : "table");
    require(a.act.empty() && a.act_granularity.empty() && !a.per_tensor,
            "act, act_granularity and per_tensor apply to int8 quantization, not to mode '{}'",
            a.mode);
  }
  const CalibrateOptions co =
      calibrate_options(a.method, a.percentile, a.calib_size, a.calib_batch, a.threads, a.progress);
  DataSource val_source;
  if (max_drop) {
    val_source = open_source(val, val_labels, da, &fp32, 0, a.val_limit, keep);
    require(val_source.dataset->has_labels(),
            "max_drop needs labeled validation data: {} has no labels, so top-1 against FP32 "
            "cannot be measured",
            val_source.name);
  }
  QuantizeReport report;
  StaticQuantReport details;
  std::optional<MixedPrecisionResult> mixed;
  std::optional<LatencyAwareResult> latency;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    Model quantized;
    SensitivityOptions so;
    so.weight_bits = recipe.weight_bits;
    so.calib = co;
    so.progress = a.progress;
    so.session.threads = a.threads;
    so.rounding = a.lowbit.rounding_options();
    if (a.latency_aware) {
      LatencyAwareOptions lo;
      lo.batch = a.latency_batch;
      lo.max_drop_points = a.max_drop;
      lo.sensitivity = so;
      if (a.progress) lo.progress = [](const std::string& line) { std::cerr << line << "\n"; };
      latency = quantize_latency_aware(fp32, *source.dataset, val_source.dataset.get(), recipe, lo);
      quantized = std::move(latency->model);
      report = latency->report;
      if (latency->accuracy) mixed = std::move(latency->accuracy);
    } else if (max_drop) {
      mixed = quantize_mixed_precision(fp32, *source.dataset, *val_source.dataset, recipe,
                                       a.max_drop, so);
      quantized = std::move(mixed->model);
      report = mixed->report;
      report.notes.push_back(fmt::format("{} unit(s) kept at {} by --max-drop", mixed->kept.size(),
                                         recipe.weight_bits == 8 ? "float" : "8-bit weights"));
    } else if (a.mode == "static") {
      std::optional<CalibrationTable> table;
      if (!a.table.empty()) table = CalibrationTable::load(a.table);
      quantized =
          quantize_static_lowbit(fp32, recipe, source.dataset.get(), table ? &*table : nullptr,
                                 a.lowbit, co, a.threads, &report, &details);
    } else if (a.mode == "dynamic") {
      DynamicQuantOptions options;
      if (a.act_granularity == "token") options.act_granularity = ActGranularity::kToken;
      quantized = quantize_dynamic(prepare_for_quantization(fp32), recipe, options, &report);
    } else {
      HalfPrecisionOptions options;
      options.type = a.mode == "bf16" ? DType::kBFloat16 : DType::kFloat16;
      options.keep_io_types = a.keep_io_types;
      quantized =
          convert_to_half_precision(prepare_for_quantization(fp32), recipe, options, &report);
    }
    save_model(quantized, a.output);
  }
  if (mixed) mixed_precision_fields(*mixed, a.max_drop, recipe.weight_bits, extra);
  if (latency) extra["latency"] = latency_fields(*latency, a.latency_batch, a.threads);
  if (a.mode == "static" && (mixed || latency)) {
    // Calibrated inside the trials: no table or low-bit log to report.
  } else if (a.mode == "static") {
    warn_nonfinite(details.table);
    extra["method"] = std::string(calibration_method_name(details.table.config.method));
    extra["calib_samples"] = details.table.samples;
    extra["weight_bits"] = recipe.weight_bits;
    extra["rounding_seconds"] = a.lowbit.rounding() ? details.rounding.seconds : 0.0;
    nb::list lines;
    for (const auto& line : details.lines) lines.append(line);
    extra["lowbit_log"] = lines;
  } else if (a.mode == "dynamic") {
    extra["act_granularity"] = std::string(act_granularity_name(
        a.act_granularity == "token" ? ActGranularity::kToken : ActGranularity::kTensor));
  } else {
    extra["keep_io_types"] = a.keep_io_types;
  }
  nb::list skipped;
  for (const NodeDecision& d : report.nodes) {
    if (d.quantized) continue;
    nb::dict s;
    s["node"] = d.node;
    s["op"] = d.op_type;
    s["reason"] = d.reason;
    skipped.append(s);
  }
  nb::dict j;
  j["model"] = a.model;
  j["output"] = a.output;
  j["mode"] = a.mode;
  j["quantized_nodes"] = report.quantized_nodes;
  j["skipped_nodes"] = report.skipped_nodes;
  j["skipped"] = skipped;
  j["activation_tensors"] = report.activation_tensors;
  j["weight_tensors"] = report.weight_tensors;
  j["bytes_before"] = static_cast<uint64_t>(std::filesystem::file_size(a.model));
  j["bytes_after"] = static_cast<uint64_t>(std::filesystem::file_size(a.output));
  nb::list notes;
  for (const auto& note : report.notes) notes.append(note);
  j["notes"] = notes;
  j.update(extra);
  return j;
}

// quench sensitivity MODEL --calib D --val D (tools/quench/cmd_sensitivity.cc).
nb::dict sensitivity_fn(const std::string& model, nb::handle calib, nb::handle calib_labels,
                        nb::handle val, nb::handle val_labels, const std::string& bits,
                        int64_t limit, int64_t batch, int threads, const std::string& method,
                        double percentile, int64_t calib_size, int64_t calib_batch, bool progress,
                        const DataArgs& da) {
  require(bits == "w8a8" || bits == "w4a8", "bits expects 'w8a8' or 'w4a8', got '{}'", bits);
  require(limit >= 0 && batch > 0 && threads >= 0,
          "limit and threads must not be negative, batch must be positive");
  std::vector<nb::ndarray<nb::ro>> keep;
  Model fp32;
  {
    nb::gil_scoped_release release;
    fp32 = load_model(model);
  }
  const DataSource c = open_source(calib, calib_labels, da, &fp32, 0, 0, keep);
  const DataSource v = open_source(val, val_labels, da, &fp32, 0, limit, keep);
  SensitivityOptions so;
  so.weight_bits = bits == "w4a8" ? 4 : 8;
  so.calib = calibrate_options(method, percentile, calib_size, calib_batch, threads, progress);
  so.batch = batch;
  so.progress = progress;
  so.session.threads = threads;
  SensitivityResult r;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    MixedPrecisionTrials trials(fp32, *c.dataset, *v.dataset, QuantRecipe{}, so);
    r = analyze_sensitivity(trials, true, progress);
  }
  nb::list units;
  for (const UnitSensitivity& u : r.units) {
    nb::dict d;
    d["name"] = u.unit.name;
    d["nodes"] = u.unit.nodes;
    d["only_quantized"] = number(u.only_quantized);
    d["all_but_this"] = number(u.all_but_this);
    units.append(d);
  }
  nb::dict j;
  j["model"] = model;
  j["bits"] = bits;
  j["metric"] = r.metric;
  j["samples"] = v.dataset->size();
  j["baseline_fp32"] = number(r.baseline_fp32);
  j["higher_precision"] = number(r.higher_precision);
  j["all_quantized"] = number(r.all_quantized);
  j["units"] = units;
  j["evaluations"] = r.evaluations;
  j["seconds"] = r.seconds;
  return j;
}

nb::dict table_summary(const CalibrationTable& t, const std::string& output) {
  warn_nonfinite(t);
  nb::dict j;
  j["output"] = output;
  j["tensors"] = t.observers.size();
  j["samples"] = t.samples;
  j["method"] = std::string(calibration_method_name(t.config.method));
  return j;
}

nb::dict calibrate_fn(const std::string& model, nb::handle data, nb::handle labels,
                      const std::string& output, const std::vector<std::string>& merge,
                      const std::string& trt_cache, const std::string& method, double percentile,
                      int64_t calib_size, int64_t calib_batch, int64_t offset,
                      const std::string& recipe_file, const std::vector<std::string>& skip,
                      int threads, bool progress, const DataArgs& da) {
  check_writable(output, "calibration table");
  if (!trt_cache.empty()) check_writable(trt_cache, "TensorRT cache");
  if (!merge.empty()) {
    require(model.empty() && data.is_none(),
            "merge combines tables; do not give a model or data with it");
    CalibrationTable all = CalibrationTable::load(merge[0]);
    for (size_t i = 1; i < merge.size(); ++i) all.merge(CalibrationTable::load(merge[i]));
    all.save(output);
    if (!trt_cache.empty()) all.save_tensorrt_cache(trt_cache);
    return table_summary(all, output);
  }
  require(!model.empty() && !data.is_none(), "give a model and data (or merge=[tables...])");
  const CalibrateOptions co =
      calibrate_options(method, percentile, calib_size, calib_batch, threads, progress);
  const QuantRecipe recipe = QuantRecipe::with_options(recipe_file, skip, {}, "", false);
  std::vector<nb::ndarray<nb::ro>> keep;
  Model fp32;
  {
    nb::gil_scoped_release release;
    fp32 = load_model(model);
  }
  const DataSource source = open_source(data, labels, da, &fp32, offset, 0, keep);
  CalibrationTable table;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    const Model prepared = prepare_for_quantization(fp32);
    table = calibrate(prepared, *source.dataset, recipe, co);
    table.save(output);
    if (!trt_cache.empty()) table.save_tensorrt_cache(trt_cache);
  }
  return table_summary(table, output);
}

nb::dict evaluate_fn(const std::string& model, nb::handle data, nb::handle labels, int64_t limit,
                     int64_t batch, int threads, bool progress, const DataArgs& da) {
  require(batch > 0 && threads >= 0 && limit >= 0,
          "batch must be positive, threads and limit not negative");
  std::vector<nb::ndarray<nb::ro>> keep;
  const DataSource source = open_source(data, labels, da, nullptr, 0, limit, keep);
  EvalResult r;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    SessionOptions so;
    so.threads = threads;
    const Session session = Session::load(model, so);
    EvalOptions eo;
    eo.batch = batch;
    eo.progress = progress;
    r = evaluate_accuracy(session, *source.dataset, eo);
  }
  nb::dict j;
  j["model"] = model;
  j["data"] = source.name;
  j["accuracy"] = r.accuracy;
  j["correct"] = r.correct;
  j["n"] = r.n;
  j["batch"] = batch;
  j["seconds"] = r.seconds;
  j["throughput"] = r.throughput;
  return j;
}

// One row of `quench compare --json`: SQNR null (None) when B equals A.
nb::dict comparison_row(const TensorComparison& c) {
  nb::dict j;
  j["name"] = c.name;
  j["b_name"] = c.b_name;
  j["elements"] = c.elements;
  j["sqnr_db"] = std::isfinite(c.sqnr_db) ? nb::cast(c.sqnr_db) : nb::none();
  j["cosine"] = c.cosine;
  j["mse"] = c.mse;
  j["max_abs"] = c.max_abs;
  return j;
}

nb::dict compare_fn(const std::string& a, const std::string& b, nb::handle data, nb::handle labels,
                    int64_t limit, int64_t batch, int threads, bool progress, const DataArgs& da) {
  require(batch > 0 && threads >= 0 && limit >= 0,
          "batch must be positive, threads and limit not negative");
  const Model model_a = load_model(a);
  std::vector<nb::ndarray<nb::ro>> keep;
  const DataSource source = open_source(data, labels, da, &model_a, 0, limit, keep);
  CompareResult r;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    const Model model_b = load_model(b);
    CompareOptions co;
    co.batch = batch;
    co.session.threads = threads;
    co.progress = progress;
    r = compare_models(model_a, model_b, *source.dataset, co);
  }
  nb::list tensors, outputs;
  for (const TensorComparison& c : r.tensors) tensors.append(comparison_row(c));
  for (const OutputComparison& c : r.outputs) {
    nb::dict j = comparison_row(c);
    j["top1_agreement"] = c.top1_agreement < 0 ? nb::none() : nb::cast(c.top1_agreement);
    outputs.append(j);
  }
  nb::dict j;
  j["a"] = a;
  j["b"] = b;
  j["data"] = source.name;
  j["n"] = r.n;
  j["seconds"] = r.seconds;
  j["tensors"] = tensors;
  j["outputs"] = outputs;
  if (r.has_labels) {
    j["accuracy_a"] = r.accuracy_a;
    j["accuracy_b"] = r.accuracy_b;
  }
  return j;
}

// Heap bytes in use (as `quench bench`): falls when memory is freed.
uint64_t heap_in_use() {
  const struct mallinfo2 m = ::mallinfo2();
  return m.uordblks + m.hblkhd;
}

nb::dict benchmark_fn(const std::string& model, int64_t batch, int threads,
                      const std::optional<std::vector<int64_t>>& shape, double seconds) {
  require(batch > 0 && threads >= 0 && seconds > 0,
          "batch and seconds must be positive, threads not negative");
  LatencyStats s;
  uint64_t session_bytes = 0;
  {
    InterruptScope interrupt;
    nb::gil_scoped_release release;
    std::optional<Shape> sample;
    if (shape) sample = Shape(shape->begin(), shape->end());
    const uint64_t before = heap_in_use();
    SessionOptions so;
    so.threads = threads;
    const Session session = Session::load(model, so);
    const std::vector<Tensor> inputs = random_inputs(session, batch, sample);
    LatencyOptions lo;
    lo.seconds = seconds;
    s = measure_latency([&] { session.run(inputs); }, lo);
    const uint64_t after = heap_in_use();
    session_bytes = after > before ? after - before : 0;
  }
  nb::dict j;
  j["model"] = model;
  j["batch"] = batch;
  j["threads"] = threads;
  j["runs"] = s.runs;
  j["median_ms"] = s.median_ms;
  j["p90_ms"] = s.p90_ms;
  j["min_ms"] = s.min_ms;
  j["throughput"] = static_cast<double>(batch) * 1000.0 / s.median_ms;
  j["session_bytes"] = session_bytes;
  return j;
}

// Every input of a model file: a list of (name, NumPy dtype, dims with -1 for unknown), for
// python/quench/_data.py to shape calibration batches.
nb::list model_inputs(const std::string& path) {
  Model m;
  {
    nb::gil_scoped_release release;
    m = load_model(path);
  }
  require(!m.graph.inputs.empty(), "{}: the model has no inputs", path);
  nb::list out;
  for (const std::string& name : m.graph.inputs) {
    const ValueInfo* info = m.graph.info(name);
    std::vector<int64_t> dims;
    DType dtype = DType::kFloat32;
    if (info) {
      dtype = info->dtype;
      if (info->shape) {
        for (const Dim& d : *info->shape) dims.push_back(d.known() ? d.value : -1);
      }
    }
    out.append(nb::make_tuple(name, numpy_name(dtype), dims));
  }
  return out;
}

}  // namespace

void bind_tools(nb::module_& m) {
  nb::class_<DataArgs>(m, "_DataArgs")
      .def(nb::init<>())
      .def_rw("resize", &DataArgs::resize)
      .def_rw("mean", &DataArgs::mean)
      .def_rw("std", &DataArgs::std)
      .def_rw("channels", &DataArgs::channels)
      .def_rw("layout", &DataArgs::layout)
      .def_rw("random_shape", &DataArgs::random_shape);
  nb::class_<QuantizeArgs>(m, "_QuantizeArgs")
      .def(nb::init<>())
      .def_rw("model", &QuantizeArgs::model)
      .def_rw("output", &QuantizeArgs::output)
      .def_rw("mode", &QuantizeArgs::mode)
      .def_rw("table", &QuantizeArgs::table)
      .def_rw("method", &QuantizeArgs::method)
      .def_rw("percentile", &QuantizeArgs::percentile)
      .def_rw("calib_size", &QuantizeArgs::calib_size)
      .def_rw("calib_batch", &QuantizeArgs::calib_batch)
      .def_rw("per_tensor", &QuantizeArgs::per_tensor)
      .def_rw("act", &QuantizeArgs::act)
      .def_rw("act_granularity", &QuantizeArgs::act_granularity)
      .def_rw("keep_io_types", &QuantizeArgs::keep_io_types)
      .def_rw("skip", &QuantizeArgs::skip)
      .def_rw("skip_op", &QuantizeArgs::skip_op)
      .def_rw("recipe", &QuantizeArgs::recipe)
      .def_rw("threads", &QuantizeArgs::threads)
      .def_rw("progress", &QuantizeArgs::progress)
      .def_rw("lowbit", &QuantizeArgs::lowbit)
      .def_rw("max_drop", &QuantizeArgs::max_drop)
      .def_rw("val_limit", &QuantizeArgs::val_limit)
      .def_rw("latency_aware", &QuantizeArgs::latency_aware)
      .def_rw("latency_batch", &QuantizeArgs::latency_batch);
  nb::class_<LowBitOptions>(m, "_LowBitOptions")
      .def(nb::init<>())
      .def_rw("weights", &LowBitOptions::weights)
      .def_rw("weight_only", &LowBitOptions::weight_only)
      .def_rw("group_size", &LowBitOptions::group_size)
      .def_rw("accuracy_level", &LowBitOptions::accuracy_level)
      .def_rw("gptq", &LowBitOptions::gptq)
      .def_rw("gptq_target", &LowBitOptions::gptq_target)
      .def_rw("adaround", &LowBitOptions::adaround)
      .def_rw("adaround_iters", &LowBitOptions::adaround_iters)
      .def_rw("bias_correction", &LowBitOptions::bias_correction)
      .def_rw("cle", &LowBitOptions::cle)
      .def_rw("smoothquant", &LowBitOptions::smoothquant);
  m.def("_quantize", &quantize, nb::arg("args"), nb::arg("calib").none(), nb::arg("labels").none(),
        nb::arg("val").none(), nb::arg("val_labels").none(), nb::arg("data_args"));
  m.def("_sensitivity", &sensitivity_fn, nb::arg("model"), nb::arg("calib"),
        nb::arg("calib_labels").none(), nb::arg("val"), nb::arg("val_labels").none(),
        nb::arg("bits"), nb::arg("limit"), nb::arg("batch"), nb::arg("threads"), nb::arg("method"),
        nb::arg("percentile"), nb::arg("calib_size"), nb::arg("calib_batch"), nb::arg("progress"),
        nb::arg("data_args"));
  m.def("_calibrate", &calibrate_fn, nb::arg("model"), nb::arg("data").none(),
        nb::arg("labels").none(), nb::arg("output"), nb::arg("merge"), nb::arg("trt_cache"),
        nb::arg("method"), nb::arg("percentile"), nb::arg("calib_size"), nb::arg("calib_batch"),
        nb::arg("offset"), nb::arg("recipe"), nb::arg("skip"), nb::arg("threads"),
        nb::arg("progress"), nb::arg("data_args"));
  m.def("_evaluate", &evaluate_fn, nb::arg("model"), nb::arg("data").none(),
        nb::arg("labels").none(), nb::arg("limit"), nb::arg("batch"), nb::arg("threads"),
        nb::arg("progress"), nb::arg("data_args"));
  m.def("_compare", &compare_fn, nb::arg("a"), nb::arg("b"), nb::arg("data").none(),
        nb::arg("labels").none(), nb::arg("limit"), nb::arg("batch"), nb::arg("threads"),
        nb::arg("progress"), nb::arg("data_args"));
  m.def("_benchmark", &benchmark_fn);
  m.def("_model_inputs", &model_inputs);
}

}  // namespace quench::py

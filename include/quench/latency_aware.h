// Latency-aware mixed precision (`quench quantize --latency-aware`): each quantization unit is
// timed in quench's runtime quantized (as lowered, with the QuantizeLinear / DequantizeLinear at
// its boundaries) and in float, units whose quantized form is not faster stay in float, and the
// result is checked end to end against the FP32 model so that it is never slower
// (docs/quantization.md eqs. (117)-(119)).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/graph.h"
#include "quench/sensitivity.h"
#include "quench/session.h"

namespace quench {

// What the choice measures. The runtime's timer (make_runtime_latency_timer) runs the models;
// tests give a fake one.
class LatencyTimer {
 public:
  virtual ~LatencyTimer() = default;
  // Milliseconds of one run of `model` spent in each unit: the median over repeated runs of the
  // steps attributed to it (attribute_steps).
  virtual std::vector<double> unit_ms(const Model& model) = 0;
  // Median milliseconds of one whole run of `a` and of `b`, measured alternately.
  virtual std::pair<double, double> model_ms(const Model& a, const Model& b) = 0;
};

// The unit each step of a lowered model belongs to, or -1. A step names a node or a tensor of
// `timed`; QuantizeLinear / DequantizeLinear / Reorder steps (named after the tensor they convert)
// and nodes outside the units belong to the unit that produces their first computed input, so
// that a unit's time includes the Q/DQ at its output and the float ops it feeds until the next
// unit (the same in the float and the quantized model). `prepared` is the graph the units were
// found in (prepare_for_quantization's).
std::vector<int> attribute_steps(const Graph& timed, const Graph& prepared,
                                 const std::vector<QuantUnit>& units,
                                 const std::vector<StepInfo>& steps);

// Units fused into another unit's step in the FP32 model's plan (MatMul + bias Add + GELU in one
// FusedMatMul, say) cannot be timed apart in float: each unit with none of its nodes among the
// `float_steps` joins the group of the unit its first computed input comes from. Returns the
// group of each unit (the index of its first unit); units outside any fusion are alone.
std::vector<size_t> fused_unit_groups(const Graph& prepared, const std::vector<QuantUnit>& units,
                                      const std::vector<StepInfo>& float_steps);

// The timer of quench's runtime: sessions with `session` options on `inputs`, `repeats` runs per
// unit measurement (after 3 warm-up runs), and about `seconds` per pair of whole models.
std::unique_ptr<LatencyTimer> make_runtime_latency_timer(const Graph& prepared,
                                                         std::vector<QuantUnit> units,
                                                         std::vector<Tensor> inputs,
                                                         const SessionOptions& session,
                                                         int repeats = 50, double seconds = 1.0);

struct UnitLatency {
  std::string name;
  double int8_ms = 0;   // in the model with every unit quantized
  double float_ms = 0;  // in the FP32 model
  bool kept_float = false;
};

// Keep unit u in float when int8_ms(u) >= margin * float_ms(u) (eq. (117)).
constexpr double kLatencyMargin = 0.97;

struct LatencyChoice {
  std::vector<UnitLatency> units;  // graph order, as MixedPrecisionTrials::units()
  std::vector<bool> low;           // quantized (not kept in float)
};

// eq. (117): two unit measurements, `all_quantized` (every unit quantized) and `fp32` (the
// prepared FP32 model); the units of a group (fused_unit_groups; empty: each unit alone) are
// decided together on the sums of their times.
LatencyChoice choose_by_latency(const std::vector<QuantUnit>& units, const Model& all_quantized,
                                const Model& fp32, LatencyTimer& timer,
                                const std::vector<size_t>& groups = {},
                                double margin = kLatencyMargin);

// eq. (148): whether the model with every unit quantized runs faster end to end than the per-unit
// choice `chosen` (medians of alternating runs); the per-unit times miss the Q/DQ a unit kept in
// float moves onto its neighbours.
bool every_unit_quantized_is_faster(LatencyTimer& timer, const Model& all_quantized,
                                    const Model& chosen, double* all_ms = nullptr,
                                    double* chosen_ms = nullptr);

struct LatencyCheck {
  Model model;            // what to write
  std::vector<bool> low;  // its quantized units (all false: the FP32 model itself)
  double fp32_ms = 0;     // the FP32 model end to end (median)
  double result_ms = 0;   // the written model end to end (median)
  int fallback_rounds = 0;
  bool fp32_written = false;  // every quantized variant was slower: the FP32 model is written
  std::vector<std::string> notes;
};

// eqs. (118)-(119): times `model` (built with `low`) against `fp32`; while it is slower, keeps in
// float the half (rounded up) of its quantized groups that gain least, the float time of the
// group's units minus their time in the current model, and measures again. At most ceil(log2 U) + 1
// rounds; when no quantized unit is left, the FP32 model is written. `build(low)` builds a model;
// `progress` receives one line per measurement.
LatencyCheck ensure_not_slower(const std::vector<double>& float_ms,
                               const std::vector<size_t>& groups, std::vector<bool> low,
                               Model model, const Model& fp32,
                               const std::function<Model(const std::vector<bool>&)>& build,
                               LatencyTimer& timer,
                               const std::function<void(const std::string&)>& progress = {});

struct LatencyAwareOptions {
  int64_t batch = 1;            // the first `batch` calibration samples are the timed input
  double max_drop_points = -1;  // >= 0: --max-drop on the units left quantized (needs `val`)
  // Calibration, sessions, the weight width (a low-bit model's units kept for latency are in
  // float, those kept by --max-drop at 8 bits) and GPTQ / AdaRound / bias correction.
  SensitivityOptions sensitivity;
  std::function<void(const std::string&)> progress;  // one line per step, when set
};

struct LatencyAwareResult {
  Model model;  // what to write
  QuantizeReport report;
  std::vector<UnitLatency> units;    // graph order; kept_float: in float in `model`
  std::vector<std::string> kept_by;  // per unit: "latency", "accuracy", "fallback" or ""
  std::vector<std::string> group;    // per unit: the first unit of its fused group
  double fp32_ms = 0, result_ms = 0;
  int fallback_rounds = 0;
  bool fp32_written = false;
  bool every_unit_quantized = false;  // eq. (148) overruled eq. (117): all units kept quantized
  std::optional<MixedPrecisionResult> accuracy;  // with max_drop_points (its model moved out)
};

// `quantize --latency-aware`: calibrate once, time the units (eq. (117)), search --max-drop on the
// units left quantized when asked, check end to end against `fp32` (eqs. (118)-(119)).
// kInvalidArgument for a non-positive batch, a batch larger than the calibration data, or a
// budget without labeled `val`.
LatencyAwareResult quantize_latency_aware(const Model& fp32, const Dataset& calib,
                                          const Dataset* val, const QuantRecipe& recipe,
                                          const LatencyAwareOptions& options);

}  // namespace quench

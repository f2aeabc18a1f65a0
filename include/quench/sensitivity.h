// Sensitivity analysis and automatic mixed precision: which quantization units lose the accuracy,
// and the fewest of them to keep at higher precision (float for w8a8, 8-bit weights inside a
// 4-bit model) so that top-1 stays within a budget of FP32 (docs/quantization.md eqs.
// (110)-(116)). Calibration is done once; every trial is built in memory from the same table and
// run in quench's runtime.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "quench/data.h"
#include "quench/graph.h"
#include "quench/lowbit.h"
#include "quench/quantize.h"
#include "quench/session.h"

namespace quench {

// A quantized compute node with the activation fused into it (Conv + Relu, say): what is kept at
// higher precision or not as one piece. Data-movement nodes follow their input and form no unit.
struct QuantUnit {
  std::string name;                // the compute node's name
  std::vector<std::string> nodes;  // it and its fused activation
};

struct SensitivityOptions {
  // 8: w8a8, a unit not quantized stays float; 2 to 7 (w4a8, ...): a unit not at that width gets
  // 8-bit weights (its activations stay 8-bit).
  int weight_bits = 8;
  CalibrateOptions calib;  // calibration, done once
  int64_t batch = 64;      // evaluation batch
  SessionOptions session;
  bool progress = true;
  // GPTQ, AdaRound and/or bias correction (include/quench/lowbit.h): chosen once, on the
  // calibration data, for every unit at the requested precision; each trial takes those units'
  // integers and corrected biases, and rounds the units at higher precision to nearest with their
  // own biases (eq. (147) of docs/quantization.md).
  WeightRoundingOptions rounding;
};

// The trials: the FP32 model prepared and calibrated once, each mixed model built in memory from
// the same table and scored on the validation data in quench's runtime. The score is top-1 (a
// fraction) when `val` has labels, else the SQNR in dB of the first output against FP32's (eq.
// (110)).
class MixedPrecisionTrials {
 public:
  // kInvalidArgument when the recipe quantizes no unit or the data do not fit the model.
  MixedPrecisionTrials(const Model& fp32, const Dataset& calib, const Dataset& val,
                       QuantRecipe recipe, const SensitivityOptions& options);
  // Builds only (--latency-aware without --val): score() is kInvalidArgument.
  MixedPrecisionTrials(const Model& fp32, const Dataset& calib, QuantRecipe recipe,
                       const SensitivityOptions& options);
  ~MixedPrecisionTrials();
  MixedPrecisionTrials(const MixedPrecisionTrials&) = delete;
  MixedPrecisionTrials& operator=(const MixedPrecisionTrials&) = delete;

  const std::vector<QuantUnit>& units() const;
  const Model& prepared() const;  // the FP32 model as prepare_for_quantization returns it
  bool has_labels() const;
  const char* metric() const;  // "top1" or "sqnr_db"
  double fp32_score() const;   // the FP32 model's (an SQNR of +infinity without labels)
  // The model with unit i at the requested precision where low[i], at higher precision elsewhere.
  Model build(const std::vector<bool>& low, QuantizeReport* report = nullptr) const;
  // Units kept in float in every model built after this call, whatever build's `low` says (the
  // units --latency-aware keeps for speed, in a 4-bit model too); one flag per unit, true: float.
  // analyze_sensitivity and search_mixed_precision leave them out.
  void keep_in_float(const std::vector<bool>& units);
  const std::vector<bool>& in_float() const;
  // Scores a model on the validation data; counts one evaluation. Interruptible.
  double score(const Model& model);
  int64_t evaluations() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

struct UnitSensitivity {
  QuantUnit unit;
  double only_quantized = 0;  // score with only this unit at the requested precision
  double all_but_this = 0;    // score with every other unit at it (NaN when not measured)
};

struct SensitivityResult {
  std::string metric;           // "top1" or "sqnr_db"
  double baseline_fp32 = 0;     // the FP32 model's score
  double higher_precision = 0;  // no unit at the requested precision (w4a8: all 8-bit weights)
  double all_quantized = 0;     // every unit at it
  std::vector<UnitSensitivity> units;  // ranked, most sensitive first (eq. (111))
  int64_t evaluations = 0;
  double seconds = 0;
};

// One trial per unit with only it quantized, and (when `all_but_this`) one with all but it;
// 2 + U or 2 + 2U evaluations for U units not kept in float by keep_in_float (one less when the
// score with every unit quantized is given as `all_quantized`). Progress on stderr; interruptible
// (kInterrupted).
SensitivityResult analyze_sensitivity(MixedPrecisionTrials& trials, bool all_but_this = true,
                                      bool progress = true,
                                      std::optional<double> all_quantized = std::nullopt);

// The search of the automatic mode (eqs. (113)-(116)): units ranked most sensitive first, `score`
// (k) the score with the first k kept at higher precision. Evaluates k = 0 and k = n, then binary
// search for the smallest k meeting `target`, assuming the score grows with k: at most
// prefix_search_bound(n) evaluations. When k = n misses the target, met is false and kept = n
// unless a smaller k scored higher.
struct PrefixSearchResult {
  size_t kept = 0;
  double score = 0;
  bool met = false;
  int64_t evaluations = 0;
};
int64_t prefix_search_bound(size_t units);
PrefixSearchResult search_kept_prefix(size_t units, double target,
                                      const std::function<double(size_t)>& score);

struct MixedPrecisionResult {
  Model model;
  QuantizeReport report;  // the written model's
  int64_t units = 0;      // quantization units searched (those not kept in float beforehand)
  // The ranking (only_quantized trials); without one (units empty, higher_precision NaN) when every
  // unit at the requested precision already meets the budget.
  SensitivityResult sensitivity;
  std::vector<UnitSensitivity> kept;  // units kept at higher precision, most sensitive first
  double target = 0;                  // FP32 top-1 minus the budget
  double reached = 0;                 // the written model's top-1
  bool met = false;
  int64_t evaluations = 0;   // all of them, the ranking's included
  int64_t search_bound = 0;  // the bound on the search's own evaluations
  double seconds = 0;
};

// Automatic mixed precision: the fewest units kept at higher precision so that top-1 on `val`
// stays within `max_drop_points` of FP32. kInvalidArgument when `val` has no labels or the budget
// is negative; an unmeetable budget returns the best model found with met = false.
MixedPrecisionResult quantize_mixed_precision(const Model& fp32, const Dataset& calib,
                                              const Dataset& val, const QuantRecipe& recipe,
                                              double max_drop_points,
                                              const SensitivityOptions& options);

// The same search on trials already made (with validation data), over the units that
// keep_in_float left free; the result's model is built by `trials`.
MixedPrecisionResult search_mixed_precision(MixedPrecisionTrials& trials, double max_drop_points,
                                            bool progress);

}  // namespace quench

// Calibration: observers that stream over the values of one tensor in bounded memory and pick a
// quantization range, and the calibration table that holds one observer per tensor.
//
// Every observer's state is serializable (JSON) and mergeable: observing shard A then merging the
// observer of shard B gives exactly the state of one observer run over A then B. Histogram-based
// methods use a fixed, data-independent grid on the float line (sign, exponent and the top
// kHistogramMantissaBits bits of the mantissa), so histograms of different shards add bin by bin.
// The math of every range rule is in docs/quantization.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quench {

enum class CalibrationMethod {
  kMinMax,         // running min and max
  kMovingAverage,  // exponential moving average of per-batch min and max (PyTorch)
  kPercentile,     // the central `percentile` % of the values
  kEntropy,        // TensorRT's entropy calibration: minimal KL divergence, on |x|
  kMse,            // minimal expected squared error (PyTorch HistogramObserver's search)
};

std::string_view calibration_method_name(CalibrationMethod method);  // "minmax", "movavg", ...
// kInvalidArgument listing the valid names when `name` is not one of them.
CalibrationMethod parse_calibration_method(std::string_view name);

struct ObserverConfig {
  CalibrationMethod method = CalibrationMethod::kMinMax;
  double percentile = 99.99;         // kPercentile: share of values kept, in (0, 100]
  double averaging_constant = 0.01;  // kMovingAverage: weight of each new batch
  int quant_levels = 256;            // kEntropy / kMse: levels of the target integer type
};

// The range an observer selected: what will be quantized to [q_min, q_max].
struct CalibratedRange {
  float min = 0.f;
  float max = 0.f;
};

class Observer {
 public:
  explicit Observer(ObserverConfig config = {});
  Observer(const Observer&);
  Observer& operator=(const Observer&);
  Observer(Observer&&) noexcept;
  Observer& operator=(Observer&&) noexcept;
  ~Observer();

  // One batch of values. NaN and infinities are skipped and counted.
  void observe(const float* values, int64_t count);
  // Folds in an observer of the same config that saw the data after this one.
  // kInvalidArgument when the configs differ.
  void merge(const Observer& later);

  // The calibrated range; min <= 0 <= max is NOT enforced here (the quantizer widens the range
  // to include zero). A tensor that was never observed, or only non-finite values, gives {0, 0}.
  // The range lies within [min(), max()]. When all finite values equal c it is {c, c}, which
  // widening to include zero turns into [c, 0] or [0, c]; for c = 0 it stays {0, 0}, and the
  // quantizer must pick a scale of its own (any scale represents 0 exactly).
  CalibratedRange range() const;
  // The range the same method selects for a grid of `quant_levels` levels instead of the config's
  // (entropy and MSE depend on it; the other methods do not).
  CalibratedRange range(int quant_levels) const;

  const ObserverConfig& config() const;
  int64_t count() const;      // finite values observed
  int64_t nonfinite() const;  // NaN and infinities skipped
  int64_t batches() const;    // observe() calls
  float min() const;          // smallest finite value seen (0 when none)
  float max() const;

  // JSON text of the whole state (config included); from_json reverses it exactly.
  std::string to_json() const;
  static Observer from_json(std::string_view json, std::string_view origin = "<json>");

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// One observer per tensor name, all with the same config.
class CalibrationTable {
 public:
  ObserverConfig config;
  std::map<std::string, Observer> observers;
  int64_t samples = 0;  // calibration samples (images) seen

  // Adds the tensors of `later` (which saw its data after this table's): observers of the same
  // tensor merge, others are added. kInvalidArgument when the configs differ.
  void merge(const CalibrationTable& later);

  // JSON file (atomic write): format version, config, samples, every observer's state and its
  // selected range. load() checks the format and names the file and field on any problem.
  void save(const std::filesystem::path& path) const;
  static CalibrationTable load(const std::filesystem::path& path);

  // TensorRT's calibration cache: a header line "TRT-<version>-EntropyCalibration2", then one
  // line per tensor "<name>: <hex of the float32 scale max(|min|, |max|) / 127>".
  void save_tensorrt_cache(const std::filesystem::path& path, int trt_version = 8601) const;
};

}  // namespace quench

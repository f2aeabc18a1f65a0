#include <algorithm>
#include <memory>
#include <utility>

#include "calib/finite_scan.h"
#include "calib/observer_config.h"
#include "calib/observer_state.h"
#include "calib/range_rules.h"
#include "core/check.h"
#include "quench/error.h"

namespace quench {

Observer::Observer(ObserverConfig config) : state_(std::make_unique<State>()) {
  calib::validate_config(config);
  state_->config = config;
}

Observer::Observer(const Observer& other) : state_(std::make_unique<State>(*other.state_)) {}

Observer& Observer::operator=(const Observer& other) {
  if (this != &other) state_ = std::make_unique<State>(*other.state_);
  return *this;
}

// A moved-from observer keeps a fresh state of the same config, so it stays usable.
Observer::Observer(Observer&& other) noexcept
    : state_(std::exchange(other.state_, std::make_unique<State>())) {
  other.state_->config = state_->config;
}

Observer& Observer::operator=(Observer&& other) noexcept {
  if (this != &other) {
    state_ = std::exchange(other.state_, std::make_unique<State>());
    other.state_->config = state_->config;
  }
  return *this;
}

Observer::~Observer() = default;

void Observer::observe(const float* values, int64_t count) {
  QUENCH_CHECK(count >= 0, ErrorKind::kInvalidArgument, "observe: negative count {}", count);
  QUENCH_CHECK(values != nullptr || count == 0, ErrorKind::kInvalidArgument,
               "observe: null values with count {}", count);
  State& s = *state_;
  const calib::FiniteScan scan = calib::scan_finite(values, count);
  ++s.batches;
  s.nonfinite += scan.nonfinite;
  if (scan.finite == 0) return;
  s.min = s.count == 0 ? scan.min : calib::total_order_min(s.min, scan.min);
  s.max = s.count == 0 ? scan.max : calib::total_order_max(s.max, scan.max);
  s.count += scan.finite;
  if (s.config.method == CalibrationMethod::kMovingAverage) {
    s.average_min.update(scan.min, s.config.averaging_constant);
    s.average_max.update(scan.max, s.config.averaging_constant);
  } else if (calib::uses_histogram(s.config.method)) {
    s.histogram.add(values, count);
  }
}

void Observer::merge(const Observer& later) {
  if (&later == this) {
    const Observer copy(later);
    merge(copy);
    return;
  }
  State& s = *state_;
  const State& l = *later.state_;
  calib::check_same_config(s.config, l.config, "cannot merge calibration observers");
  if (l.count > 0) {
    s.min = s.count == 0 ? l.min : calib::total_order_min(s.min, l.min);
    s.max = s.count == 0 ? l.max : calib::total_order_max(s.max, l.max);
  }
  s.count += l.count;
  s.nonfinite += l.nonfinite;
  s.batches += l.batches;
  s.average_min.merge(l.average_min);
  s.average_max.merge(l.average_max);
  s.histogram.merge(l.histogram);
}

CalibratedRange Observer::range() const { return range(state_->config.quant_levels); }

CalibratedRange Observer::range(int quant_levels) const {
  const State& s = *state_;
  if (s.count == 0) return {0.f, 0.f};
  switch (s.config.method) {
    case CalibrationMethod::kMinMax:
      return {s.min, s.max};
    case CalibrationMethod::kMovingAverage: {
      const auto lo = float(s.average_min.running);
      // The averages keep min <= max up to rounding; never hand out an inverted range.
      return {lo, std::max(lo, float(s.average_max.running))};
    }
    case CalibrationMethod::kPercentile:
      return calib::percentile_range(s.histogram, s.min, s.max, s.config.percentile);
    case CalibrationMethod::kEntropy:
      return calib::entropy_range(s.histogram, s.min, s.max, quant_levels);
    case CalibrationMethod::kMse:
      return calib::mse_range(s.histogram, s.min, s.max, quant_levels);
  }
  fail(ErrorKind::kInternal, "unknown calibration method {}", int(s.config.method));
}

const ObserverConfig& Observer::config() const { return state_->config; }
int64_t Observer::count() const { return state_->count; }
int64_t Observer::nonfinite() const { return state_->nonfinite; }
int64_t Observer::batches() const { return state_->batches; }
float Observer::min() const { return state_->min; }
float Observer::max() const { return state_->max; }

}  // namespace quench

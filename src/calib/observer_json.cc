// Observer state as JSON: exact round trip (floats as their shortest decimal, doubles with up to
// 17 digits, counts as integers) and a full consistency check when reading.
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>

#include "calib/json_fields.h"
#include "calib/observer_config.h"
#include "calib/observer_state.h"
#include "quench/error.h"

namespace quench {
namespace {

using nlohmann::json;

json average_json(const calib::MovingAverage& average) {
  return {{"steps", average.steps},
          {"running", average.running},
          {"from_zero", average.from_zero},
          {"decay", average.decay}};
}

calib::MovingAverage read_average(const calib::JsonField& field, int64_t batches) {
  calib::MovingAverage average;
  average.steps = field.member("steps").as_int64(0, batches);
  // Averages of floats lie within the float range.
  const auto read_bounded = [&](std::string_view key) {
    const calib::JsonField value = field.member(key);
    const double x = value.as_double();
    if (std::abs(x) > double(std::numeric_limits<float>::max())) {
      value.fail(fmt::format("{} is outside the float range", x));
    }
    return x;
  };
  average.running = read_bounded("running");
  average.from_zero = read_bounded("from_zero");
  const calib::JsonField decay = field.member("decay");
  average.decay = decay.as_double();
  if (average.decay < 0 || average.decay > 1) decay.fail("expected a value in [0, 1]");
  return average;
}

json histogram_json(const calib::FloatHistogram& histogram) {
  json bins = json::array();
  json counts = json::array();
  for (const auto& [bin, count] : histogram.nonzero_bins()) {
    bins.push_back(bin);
    counts.push_back(count);
  }
  return {{"bins", std::move(bins)}, {"counts", std::move(counts)}};
}

// Reads the sparse histogram; its counts must add up to the finite count and its first and last
// bins must be those of the extremes.
void read_histogram(const calib::JsonField& field, int64_t expected_count, float min, float max,
                    calib::FloatHistogram& histogram) {
  using calib::FloatHistogram;
  const calib::JsonField bins = field.member("bins");
  const calib::JsonField counts = field.member("counts");
  const size_t size = bins.array_size();
  if (counts.array_size() != size) {
    counts.fail(fmt::format("expected {} elements like 'bins', got {}", size, counts.array_size()));
  }
  int64_t total = 0;
  int previous = -1;
  for (size_t i = 0; i < size; ++i) {
    const calib::JsonField bin_field = bins.element(i);
    const int bin = int(bin_field.as_int64(0, FloatHistogram::kBinCount - 1));
    if (bin <= previous) bin_field.fail("bins must be strictly increasing");
    previous = bin;
    const int64_t count = counts.element(i).as_int64(1);
    if (__builtin_add_overflow(total, count, &total)) counts.fail("counts overflow");
    histogram.add_to_bin(bin, count);
  }
  if (total != expected_count) {
    counts.fail(fmt::format("counts add up to {}, but 'count' is {}", total, expected_count));
  }
  if (size > 0) {
    const int first = int(bins.element(0).value().get<int64_t>());
    if (first != FloatHistogram::bin_of(min)) {
      bins.fail(fmt::format("first bin {} is not the bin of min {} ({})", first, min,
                            FloatHistogram::bin_of(min)));
    }
    if (previous != FloatHistogram::bin_of(max)) {
      bins.fail(fmt::format("last bin {} is not the bin of max {} ({})", previous, max,
                            FloatHistogram::bin_of(max)));
    }
  }
}

}  // namespace

std::string Observer::to_json() const {
  const State& s = *state_;
  json j = {{"config", calib::config_json(s.config)},
            {"count", s.count},
            {"nonfinite", s.nonfinite},
            {"batches", s.batches},
            {"min", calib::float_json(s.min)},
            {"max", calib::float_json(s.max)}};
  if (s.config.method == CalibrationMethod::kMovingAverage) {
    j["moving_average"] = {{"min", average_json(s.average_min)},
                           {"max", average_json(s.average_max)}};
  } else if (calib::uses_histogram(s.config.method)) {
    j["histogram"] = histogram_json(s.histogram);
  }
  return calib::dump_json(j, "calibration observer");
}

Observer Observer::from_json(std::string_view text, std::string_view origin) {
  const json j = calib::parse_json(text, origin);
  const calib::JsonField root(j, std::string(origin));
  root.expect_object();
  Observer observer(calib::config_from_json(root.member("config")));
  State& s = *observer.state_;
  s.count = root.member("count").as_int64();
  s.nonfinite = root.member("nonfinite").as_int64();
  const calib::JsonField batches = root.member("batches");
  s.batches = batches.as_int64();
  if (s.batches == 0 && (s.count > 0 || s.nonfinite > 0)) batches.fail("values without batches");
  const calib::JsonField min = root.member("min");
  const calib::JsonField max = root.member("max");
  s.min = min.as_float();
  s.max = max.as_float();
  if (s.count == 0 && (s.min != 0 || s.max != 0)) min.fail("min and max must be 0 when count is 0");
  if (s.min > s.max) min.fail(fmt::format("min {} is greater than max {}", s.min, s.max));

  if (s.config.method == CalibrationMethod::kMovingAverage) {
    const calib::JsonField average = root.member("moving_average");
    s.average_min = read_average(average.member("min"), s.batches);
    s.average_max = read_average(average.member("max"), s.batches);
    if (s.average_max.steps != s.average_min.steps) {
      average.fail("'min' and 'max' differ in steps");
    }
    if ((s.average_min.steps == 0) != (s.count == 0)) {
      average.fail("steps must be 0 exactly when count is 0");
    }
  } else if (calib::uses_histogram(s.config.method)) {
    read_histogram(root.member("histogram"), s.count, s.min, s.max, s.histogram);
  }
  return observer;
}

}  // namespace quench

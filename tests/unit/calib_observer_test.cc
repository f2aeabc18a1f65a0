// Observers: every method on edge cases, exact shard merges, the moving average against PyTorch's
// update, and the JSON state (round trip and every load error).
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "quench/calibration.h"
#include "quench/error.h"

namespace quench {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

constexpr CalibrationMethod kAllMethods[] = {
    CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverage, CalibrationMethod::kPercentile,
    CalibrationMethod::kEntropy, CalibrationMethod::kMse};

ObserverConfig config_of(CalibrationMethod method) {
  ObserverConfig config;
  config.method = method;
  config.percentile = 99.9;
  config.averaging_constant = 0.3;
  return config;
}

// Batches of different sizes and scales, with NaN, infinities, an empty batch and an all-NaN
// batch among them.
std::vector<std::vector<float>> make_batches(uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.5f, 2.f);
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 9; ++b) {
    std::vector<float> batch(500 + 137 * b);
    const float scale = 1.f + 0.25f * float(b % 4);
    for (float& v : batch) v = scale * dist(rng);
    if (b == 2) batch.insert(batch.begin() + 7, {kNaN, kInf, -kInf});
    if (b == 5) batch.push_back(40.f);
    batches.push_back(batch);
  }
  batches.insert(batches.begin() + 3, std::vector<float>{});
  batches.insert(batches.begin() + 6, std::vector<float>{kNaN, kNaN});
  return batches;
}

Observer observe_batches(const std::vector<std::vector<float>>& batches, size_t begin, size_t end,
                         const ObserverConfig& config) {
  Observer observer(config);
  for (size_t b = begin; b < end; ++b) {
    observer.observe(batches[b].data(), int64_t(batches[b].size()));
  }
  return observer;
}

template <class F>
ErrorKind error_kind_of(F&& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.kind();
  }
  ADD_FAILURE() << "no quench::Error thrown";
  return ErrorKind::kInternal;
}

TEST(CalibObserver, MethodNames) {
  for (const auto method : kAllMethods) {
    EXPECT_EQ(parse_calibration_method(calibration_method_name(method)), method);
  }
  EXPECT_EQ(calibration_method_name(CalibrationMethod::kMovingAverage), "movavg");
  std::string message;
  EXPECT_EQ(error_kind_of([] { parse_calibration_method("kl"); }, &message),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("minmax, movavg, percentile, entropy, mse"), std::string::npos) << message;
}

TEST(CalibObserver, ConfigIsChecked) {
  const auto make = [](auto change) {
    ObserverConfig config;
    change(config);
    return [config] { Observer observer(config); };
  };
  for (const double p : {0.0, -1.0, 100.5, double(kNaN)}) {
    EXPECT_EQ(error_kind_of(make([p](ObserverConfig& c) { c.percentile = p; })),
              ErrorKind::kInvalidArgument)
        << p;
  }
  for (const double c : {0.0, 1.5, double(kNaN)}) {
    EXPECT_EQ(error_kind_of(make([c](ObserverConfig& o) { o.averaging_constant = c; })),
              ErrorKind::kInvalidArgument)
        << c;
  }
  EXPECT_EQ(error_kind_of(make([](ObserverConfig& c) { c.quant_levels = 1; })),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(error_kind_of(make([](ObserverConfig& c) { c.method = CalibrationMethod(17); })),
            ErrorKind::kInvalidArgument);
}

TEST(CalibObserver, MinMaxIsExactAndSkipsNonFiniteValues) {
  const auto batches = make_batches(1);
  const Observer observer =
      observe_batches(batches, 0, batches.size(), config_of(CalibrationMethod::kMinMax));
  float lo = kInf, hi = -kInf;
  int64_t finite = 0, nonfinite = 0;
  for (const auto& batch : batches) {
    for (const float v : batch) {
      if (!std::isfinite(v)) {
        ++nonfinite;
        continue;
      }
      ++finite;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  EXPECT_EQ(observer.range().min, lo);
  EXPECT_EQ(observer.range().max, hi);
  EXPECT_EQ(observer.min(), lo);
  EXPECT_EQ(observer.max(), 40.f);
  EXPECT_EQ(observer.count(), finite);
  EXPECT_EQ(observer.nonfinite(), nonfinite);
  EXPECT_EQ(nonfinite, 5);
  EXPECT_EQ(observer.batches(), int64_t(batches.size()));
}

TEST(CalibObserver, NothingObservedGivesZeroRange) {
  const std::vector<float> only_nonfinite = {kNaN, kInf, -kInf};
  for (const auto method : kAllMethods) {
    Observer observer(config_of(method));
    EXPECT_EQ(observer.range().min, 0.f);
    EXPECT_EQ(observer.range().max, 0.f);
    observer.observe(nullptr, 0);
    observer.observe(only_nonfinite.data(), 3);
    const CalibratedRange range = observer.range();
    EXPECT_EQ(range.min, 0.f) << calibration_method_name(method);
    EXPECT_EQ(range.max, 0.f) << calibration_method_name(method);
    EXPECT_EQ(observer.count(), 0);
    EXPECT_EQ(observer.nonfinite(), 3);
    EXPECT_EQ(observer.batches(), 2);
    EXPECT_EQ(observer.min(), 0.f);
    EXPECT_EQ(observer.max(), 0.f);
  }
}

TEST(CalibObserver, ObserveRejectsBadArguments) {
  Observer observer;
  const float value = 1.f;
  EXPECT_EQ(error_kind_of([&] { observer.observe(&value, -1); }), ErrorKind::kInvalidArgument);
  EXPECT_EQ(error_kind_of([&] { observer.observe(nullptr, 3); }), ErrorKind::kInvalidArgument);
}

TEST(CalibObserver, MovingAverageFollowsPyTorchUpdate) {
  const auto batches = make_batches(2);
  const ObserverConfig config = config_of(CalibrationMethod::kMovingAverage);
  const Observer observer = observe_batches(batches, 0, batches.size(), config);
  // MovingAverageMinMaxObserver: the first batch sets the range, each later batch moves it by
  // c·(batch extreme − current); batches without finite values are skipped.
  bool first = true;
  double lo = 0, hi = 0;
  for (const auto& batch : batches) {
    float batch_lo = kInf, batch_hi = -kInf;
    for (const float v : batch) {
      if (std::isfinite(v)) {
        batch_lo = std::min(batch_lo, v);
        batch_hi = std::max(batch_hi, v);
      }
    }
    if (batch_lo > batch_hi) continue;
    if (first) {
      lo = batch_lo;
      hi = batch_hi;
      first = false;
    } else {
      lo = lo + config.averaging_constant * (batch_lo - lo);
      hi = hi + config.averaging_constant * (batch_hi - hi);
    }
  }
  EXPECT_EQ(observer.range().min, float(lo));
  EXPECT_EQ(observer.range().max, float(hi));
  EXPECT_NE(observer.range().max, observer.max());
}

// Merging the observers of batches [0, split) and [split, n) must give the observer of [0, n),
// for every split point.
TEST(CalibObserver, ShardMergeEqualsOneRunExactly) {
  const auto batches = make_batches(3);
  for (const auto method : kAllMethods) {
    if (method == CalibrationMethod::kMovingAverage) continue;  // its own test below
    const ObserverConfig config = config_of(method);
    const Observer whole = observe_batches(batches, 0, batches.size(), config);
    for (size_t split = 0; split <= batches.size(); ++split) {
      Observer merged = observe_batches(batches, 0, split, config);
      merged.merge(observe_batches(batches, split, batches.size(), config));
      ASSERT_EQ(merged.to_json(), whole.to_json())
          << calibration_method_name(method) << ", split " << split;
    }
    // Three shards, grouped either way.
    Observer left = observe_batches(batches, 0, 2, config);
    left.merge(observe_batches(batches, 2, 7, config));
    left.merge(observe_batches(batches, 7, batches.size(), config));
    Observer right_tail = observe_batches(batches, 2, 7, config);
    right_tail.merge(observe_batches(batches, 7, batches.size(), config));
    Observer right = observe_batches(batches, 0, 2, config);
    right.merge(right_tail);
    EXPECT_EQ(left.to_json(), whole.to_json()) << calibration_method_name(method);
    EXPECT_EQ(right.to_json(), whole.to_json()) << calibration_method_name(method);
  }
}

// The moving average merges exactly in real arithmetic (docs/quantization.md eq. (9)); in
// doubles the merged state may differ from one run by rounding, far below float resolution: the
// ranges must be bit-identical and the double state within kStateTolerance (relative).
TEST(CalibObserver, MovingAverageShardMergeEqualsOneRun) {
  constexpr double kStateTolerance = 1e-13;
  const auto batches = make_batches(4);
  const ObserverConfig config = config_of(CalibrationMethod::kMovingAverage);
  const Observer whole = observe_batches(batches, 0, batches.size(), config);
  const nlohmann::json want = nlohmann::json::parse(whole.to_json());
  for (size_t split = 0; split <= batches.size(); ++split) {
    Observer merged = observe_batches(batches, 0, split, config);
    merged.merge(observe_batches(batches, split, batches.size(), config));
    EXPECT_EQ(merged.range().min, whole.range().min) << "split " << split;
    EXPECT_EQ(merged.range().max, whole.range().max) << "split " << split;
    nlohmann::json got = nlohmann::json::parse(merged.to_json());
    for (const char* side : {"min", "max"}) {
      for (const char* field : {"running", "from_zero", "decay"}) {
        const double g = got["moving_average"][side][field];
        const double w = want["moving_average"][side][field];
        EXPECT_NEAR(g, w, kStateTolerance * std::abs(w)) << side << "." << field;
        got["moving_average"][side][field] = w;
      }
    }
    EXPECT_EQ(got, want) << "split " << split;  // everything else exactly
  }
}

TEST(CalibObserver, MergeNeedsTheSameConfig) {
  Observer a(config_of(CalibrationMethod::kPercentile));
  ObserverConfig other = config_of(CalibrationMethod::kPercentile);
  other.percentile = 99.0;
  std::string message;
  EXPECT_EQ(error_kind_of([&] { a.merge(Observer(other)); }, &message),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("percentile"), std::string::npos) << message;
  EXPECT_EQ(error_kind_of([&] { a.merge(Observer(config_of(CalibrationMethod::kMse))); }, &message),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("method (percentile vs mse)"), std::string::npos) << message;
}

TEST(CalibObserver, MergeWithItselfDoublesTheCounts) {
  const auto batches = make_batches(5);
  Observer observer =
      observe_batches(batches, 0, batches.size(), config_of(CalibrationMethod::kEntropy));
  Observer twice =
      observe_batches(batches, 0, batches.size(), config_of(CalibrationMethod::kEntropy));
  twice.merge(observer);
  observer.merge(observer);
  EXPECT_EQ(observer.to_json(), twice.to_json());
}

TEST(CalibObserver, CopyAndMove) {
  const auto batches = make_batches(6);
  Observer original = observe_batches(batches, 0, 4, config_of(CalibrationMethod::kMse));
  const std::string json = original.to_json();
  Observer copy = original;
  EXPECT_EQ(copy.to_json(), json);
  Observer moved = std::move(original);
  EXPECT_EQ(moved.to_json(), json);
  // The moved-from observer is fresh, with the same config, and usable.
  EXPECT_EQ(original.count(), 0);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(original.config().method, CalibrationMethod::kMse);
  original.observe(batches[0].data(), int64_t(batches[0].size()));
  EXPECT_GT(original.count(), 0);
  copy = std::move(moved);
  EXPECT_EQ(copy.to_json(), json);
}

TEST(CalibObserverJson, RoundTripIsExact) {
  const auto batches = make_batches(7);
  std::vector<float> odd = {std::numeric_limits<float>::denorm_min(), -0.f,    0.1f,
                            std::numeric_limits<float>::max(),        -1e-38f, 3.4028e38f};
  for (const auto method : kAllMethods) {
    for (const bool empty : {false, true}) {
      Observer observer =
          observe_batches(batches, 0, empty ? 0 : batches.size(), config_of(method));
      if (!empty) observer.observe(odd.data(), int64_t(odd.size()));
      const std::string json = observer.to_json();
      const Observer back = Observer::from_json(json);
      EXPECT_EQ(back.to_json(), json) << calibration_method_name(method);
      EXPECT_EQ(back.count(), observer.count());
      EXPECT_EQ(back.nonfinite(), observer.nonfinite());
      EXPECT_EQ(back.batches(), observer.batches());
      EXPECT_EQ(std::bit_cast<uint32_t>(back.min()), std::bit_cast<uint32_t>(observer.min()));
      EXPECT_EQ(std::bit_cast<uint32_t>(back.max()), std::bit_cast<uint32_t>(observer.max()));
      EXPECT_EQ(back.range().min, observer.range().min);
      EXPECT_EQ(back.range().max, observer.range().max);
      EXPECT_EQ(back.config().percentile, observer.config().percentile);
      EXPECT_EQ(back.config().averaging_constant, observer.config().averaging_constant);
    }
  }
}

TEST(CalibObserverJson, FloatsAreWrittenAsShortDecimals) {
  Observer observer;
  const std::vector<float> values = {0.1f, -2.5f};
  observer.observe(values.data(), 2);
  const auto j = nlohmann::json::parse(observer.to_json());
  EXPECT_EQ(j["min"].dump(), "-2.5");
  EXPECT_EQ(j["max"].dump(), "0.1");
}

// Each case edits a valid state and names a text the error must contain.
struct BadState {
  std::string what;
  std::function<void(nlohmann::json&)> edit;
  std::string expected;
};

TEST(CalibObserverJson, LoadErrorsNameTheField) {
  const auto batches = make_batches(8);
  const std::vector<BadState> cases = {
      {"missing count", [](auto& j) { j.erase("count"); }, "field 'count': missing"},
      {"negative count", [](auto& j) { j["count"] = -4; }, "field 'count'"},
      {"count as text", [](auto& j) { j["count"] = "12"; }, "expected an integer, got string"},
      {"count as float", [](auto& j) { j["count"] = 12.5; }, "expected an integer, got a number"},
      {"negative nonfinite", [](auto& j) { j["nonfinite"] = -1; }, "field 'nonfinite'"},
      {"huge batches", [](auto& j) { j["batches"] = uint64_t(1) << 63; }, "field 'batches'"},
      {"unknown method", [](auto& j) { j["config"]["method"] = "kl"; },
       "field 'config.method': unknown method 'kl'"},
      {"bad percentile", [](auto& j) { j["config"]["percentile"] = 0; },
       "field 'config.percentile'"},
      {"bad levels", [](auto& j) { j["config"]["quant_levels"] = 1; },
       "field 'config.quant_levels'"},
      {"config not object", [](auto& j) { j["config"] = 3; }, "expected an object, got an integer"},
      {"min above max", [](auto& j) { j["min"] = 1e9; }, "greater than max"},
      {"min out of float range", [](auto& j) { j["min"] = -1e300; }, "outside the float range"},
      {"bin out of range", [](auto& j) { j["histogram"]["bins"][0] = 40000; },
       "field 'histogram.bins[0]': expected an integer in [0, 32512]"},
      {"negative bin", [](auto& j) { j["histogram"]["bins"][0] = -1; }, "histogram.bins[0]"},
      {"bins out of order",
       [](auto& j) { std::swap(j["histogram"]["bins"][1], j["histogram"]["bins"][2]); },
       "strictly increasing"},
      {"zero count", [](auto& j) { j["histogram"]["counts"][1] = 0; }, "histogram.counts[1]"},
      {"counts do not add up", [](auto& j) { j["histogram"]["counts"][1] = 1234567; }, "add up to"},
      {"lengths differ", [](auto& j) { j["histogram"]["counts"].erase(0); }, "histogram.counts"},
      {"missing histogram", [](auto& j) { j.erase("histogram"); }, "field 'histogram': missing"},
      {"bins not an array", [](auto& j) { j["histogram"]["bins"] = nlohmann::json::object(); },
       "expected an array, got object"},
      {"first bin is not min's", [](auto& j) { j["min"] = -1000.f; }, "first bin"},
  };
  const Observer observer =
      observe_batches(batches, 0, batches.size(), config_of(CalibrationMethod::kPercentile));
  const auto valid = nlohmann::json::parse(observer.to_json());
  for (const auto& c : cases) {
    auto j = valid;
    c.edit(j);
    std::string message;
    EXPECT_EQ(error_kind_of([&] { Observer::from_json(j.dump(), "state.json"); }, &message),
              ErrorKind::kInvalidArgument)
        << c.what;
    EXPECT_NE(message.find("state.json: "), std::string::npos) << c.what << ": " << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
  }
}

TEST(CalibObserverJson, MovingAverageLoadErrors) {
  const auto batches = make_batches(9);
  const std::vector<BadState> cases = {
      {"missing average", [](auto& j) { j.erase("moving_average"); }, "'moving_average': missing"},
      {"steps above batches", [](auto& j) { j["moving_average"]["min"]["steps"] = 1000; },
       "moving_average.min.steps"},
      {"steps differ", [](auto& j) { j["moving_average"]["max"]["steps"] = 1; }, "differ in steps"},
      {"decay above one", [](auto& j) { j["moving_average"]["max"]["decay"] = 1.5; },
       "moving_average.max.decay"},
      {"running as null", [](auto& j) { j["moving_average"]["max"]["running"] = nullptr; },
       "expected a number, got null"},
      {"running past floats", [](auto& j) { j["moving_average"]["min"]["from_zero"] = -1e300; },
       "moving_average.min.from_zero': -1e+300 is outside the float range"},
  };
  const Observer observer =
      observe_batches(batches, 0, batches.size(), config_of(CalibrationMethod::kMovingAverage));
  const auto valid = nlohmann::json::parse(observer.to_json());
  for (const auto& c : cases) {
    auto j = valid;
    c.edit(j);
    std::string message;
    EXPECT_EQ(error_kind_of([&] { Observer::from_json(j.dump()); }, &message),
              ErrorKind::kInvalidArgument)
        << c.what;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
  }
}

TEST(CalibObserverJson, TextThatIsNotAStateFails) {
  const std::vector<std::string> texts = {"",
                                          "{",
                                          "[1, 2]",
                                          "null",
                                          "{\"config\": {}}",
                                          "nan",
                                          std::string(100, '[') + std::string(100, ']')};
  for (const std::string& text : texts) {
    std::string message;
    EXPECT_EQ(error_kind_of([&] { Observer::from_json(text, "x.json"); }, &message),
              ErrorKind::kInvalidArgument)
        << text;
    EXPECT_EQ(message.rfind("x.json: ", 0), 0u) << message;
  }
}

}  // namespace
}  // namespace quench

// The calibration table: save/load, shard merges giving the same file as one run, every load
// error (including truncated and corrupted files), and the TensorRT calibration cache.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "quench/calibration.h"
#include "quench/error.h"

namespace quench {
namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp folder, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = fs::temp_directory_path() / ("quench_calib_test_" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
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

// A calibration sample: activations of three tensors (one ReLU-like, one with a NaN) and one
// that appears only in some samples, as a branch might.
struct Sample {
  std::vector<float> input, relu, logits;
  bool has_logits = false;
};

std::vector<Sample> make_samples(int count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 1.5f);
  std::vector<Sample> samples(count);
  for (int s = 0; s < count; ++s) {
    Sample& sample = samples[s];
    sample.input.resize(300);
    for (float& v : sample.input) v = dist(rng);
    sample.relu = sample.input;
    for (float& v : sample.relu) v = std::max(v, 0.f) * 3;
    if (s == 3) sample.input[5] = std::numeric_limits<float>::quiet_NaN();
    sample.has_logits = s % 3 != 1;
    sample.logits.resize(10);
    for (float& v : sample.logits) v = 10 * dist(rng);
  }
  return samples;
}

CalibrationTable calibrate(const std::vector<Sample>& samples, size_t begin, size_t end,
                           const ObserverConfig& config) {
  CalibrationTable table;
  table.config = config;
  for (size_t s = begin; s < end; ++s) {
    const Sample& sample = samples[s];
    const auto observe = [&](const std::string& name, const std::vector<float>& values) {
      table.observers.try_emplace(name, config)
          .first->second.observe(values.data(), int64_t(values.size()));
    };
    observe("input", sample.input);
    observe("conv1/relu:0", sample.relu);
    if (sample.has_logits) observe("logits", sample.logits);
    ++table.samples;
  }
  return table;
}

ObserverConfig config_of(CalibrationMethod method) {
  ObserverConfig config;
  config.method = method;
  return config;
}

constexpr CalibrationMethod kAllMethods[] = {
    CalibrationMethod::kMinMax, CalibrationMethod::kMovingAverage, CalibrationMethod::kPercentile,
    CalibrationMethod::kEntropy, CalibrationMethod::kMse};

TEST(CalibTable, SaveLoadRoundTrip) {
  TempDir dir;
  const auto samples = make_samples(12, 1);
  for (const auto method : kAllMethods) {
    const CalibrationTable table = calibrate(samples, 0, samples.size(), config_of(method));
    table.save(dir / "table.json");
    const CalibrationTable back = CalibrationTable::load(dir / "table.json");
    EXPECT_EQ(back.samples, 12);
    EXPECT_EQ(back.config.method, method);
    ASSERT_EQ(back.observers.size(), 3u);
    for (const auto& [name, observer] : table.observers) {
      EXPECT_EQ(back.observers.at(name).to_json(), observer.to_json()) << name;
    }
    back.save(dir / "again.json");
    EXPECT_EQ(read_text(dir / "again.json"), read_text(dir / "table.json"));
  }
}

TEST(CalibTable, FileLayout) {
  TempDir dir;
  const auto samples = make_samples(4, 2);
  const CalibrationTable table =
      calibrate(samples, 0, samples.size(), config_of(CalibrationMethod::kMinMax));
  table.save(dir / "t.json");
  const std::string text = read_text(dir / "t.json");
  const auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j["format"], "quench-calibration");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["samples"], 4);
  EXPECT_EQ(j["config"]["method"], "minmax");
  const CalibratedRange range = table.observers.at("logits").range();
  EXPECT_EQ(j["tensors"]["logits"]["range"][0].get<float>(), range.min);
  EXPECT_EQ(j["tensors"]["logits"]["range"][1].get<float>(), range.max);
  EXPECT_EQ(j["tensors"]["logits"]["state"]["count"], 30);
  EXPECT_FALSE(j["tensors"]["logits"]["state"].contains("config"));  // the table's config
  // One line per tensor.
  EXPECT_NE(text.find("\n    \"conv1/relu:0\": {"), std::string::npos) << text;

  CalibrationTable empty;
  empty.save(dir / "empty.json");
  EXPECT_TRUE(CalibrationTable::load(dir / "empty.json").observers.empty());
}

// Tables of shards of the data, merged, give the same file as one run over all of it.
TEST(CalibTable, ShardMergeWritesTheSameFileAsOneRun) {
  TempDir dir;
  const auto samples = make_samples(10, 3);
  for (const auto method : kAllMethods) {
    if (method == CalibrationMethod::kMovingAverage) continue;  // exact up to rounding: below
    const ObserverConfig config = config_of(method);
    calibrate(samples, 0, samples.size(), config).save(dir / "whole.json");
    const std::string whole = read_text(dir / "whole.json");
    for (const size_t split : {size_t(0), size_t(1), size_t(4), size_t(9), size_t(10)}) {
      calibrate(samples, 0, split, config).save(dir / "a.json");
      calibrate(samples, split, samples.size(), config).save(dir / "b.json");
      CalibrationTable merged = CalibrationTable::load(dir / "a.json");
      merged.merge(CalibrationTable::load(dir / "b.json"));
      merged.save(dir / "merged.json");
      ASSERT_EQ(read_text(dir / "merged.json"), whole)
          << calibration_method_name(method) << ", split " << split;
    }
  }
}

TEST(CalibTable, MovingAverageShardMergeGivesTheSameRanges) {
  const auto samples = make_samples(10, 4);
  const ObserverConfig config = config_of(CalibrationMethod::kMovingAverage);
  const CalibrationTable whole = calibrate(samples, 0, samples.size(), config);
  CalibrationTable merged = calibrate(samples, 0, 6, config);
  merged.merge(calibrate(samples, 6, samples.size(), config));
  EXPECT_EQ(merged.samples, whole.samples);
  for (const auto& [name, observer] : whole.observers) {
    EXPECT_EQ(merged.observers.at(name).range().min, observer.range().min) << name;
    EXPECT_EQ(merged.observers.at(name).range().max, observer.range().max) << name;
    EXPECT_EQ(merged.observers.at(name).batches(), observer.batches()) << name;
  }
}

TEST(CalibTable, MergeNeedsTheSameConfig) {
  const auto samples = make_samples(4, 5);
  CalibrationTable a = calibrate(samples, 0, 2, config_of(CalibrationMethod::kEntropy));
  ObserverConfig other = config_of(CalibrationMethod::kEntropy);
  other.quant_levels = 16;
  const CalibrationTable b = calibrate(samples, 2, 4, other);
  std::string message;
  EXPECT_EQ(error_kind_of([&] { a.merge(b); }, &message), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("quant_levels (256 vs 16)"), std::string::npos) << message;
  EXPECT_EQ(a.samples, 2);  // unchanged

  // An observer whose config differs from its table's: nothing of the merge happens.
  CalibrationTable c = calibrate(samples, 2, 4, config_of(CalibrationMethod::kEntropy));
  c.observers.emplace("extra", Observer(other));
  const int64_t input_count = a.observers.at("input").count();
  EXPECT_EQ(error_kind_of([&] { a.merge(c); }, &message), ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("tensor 'extra'"), std::string::npos) << message;
  EXPECT_EQ(a.observers.at("input").count(), input_count);
  EXPECT_EQ(a.observers.count("extra"), 0u);
  EXPECT_EQ(a.samples, 2);
}

TEST(CalibTable, SaveRejectsAnObserverOfAnotherConfig) {
  TempDir dir;
  CalibrationTable table;
  table.observers.emplace("x", Observer(config_of(CalibrationMethod::kMse)));
  std::string message;
  EXPECT_EQ(error_kind_of([&] { table.save(dir / "t.json"); }, &message),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("tensor 'x'"), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(dir / "t.json"));
}

struct BadTable {
  std::string what;
  std::function<void(nlohmann::json&)> edit;
  std::string expected;
};

TEST(CalibTable, LoadErrorsNameTheFileAndField) {
  TempDir dir;
  const auto samples = make_samples(6, 6);
  calibrate(samples, 0, samples.size(), config_of(CalibrationMethod::kPercentile))
      .save(dir / "good.json");
  const auto valid = nlohmann::json::parse(read_text(dir / "good.json"));
  const std::vector<BadTable> cases = {
      {"wrong format", [](auto& j) { j["format"] = "onnx"; }, "field 'format': expected"},
      {"missing format", [](auto& j) { j.erase("format"); }, "field 'format': missing"},
      {"wrong version", [](auto& j) { j["version"] = 2; }, "unsupported version 2"},
      {"version as text", [](auto& j) { j["version"] = "1"; }, "field 'version'"},
      {"missing config", [](auto& j) { j.erase("config"); }, "field 'config': missing"},
      {"bad method", [](auto& j) { j["config"]["method"] = 5; }, "field 'config.method'"},
      {"negative samples", [](auto& j) { j["samples"] = -1; }, "field 'samples'"},
      {"tensors not an object", [](auto& j) { j["tensors"] = nlohmann::json::array(); },
       "field 'tensors': expected an object"},
      {"missing range", [](auto& j) { j["tensors"]["input"].erase("range"); },
       "field 'tensors.input.range': missing"},
      {"short range", [](auto& j) { j["tensors"]["input"]["range"] = {1}; }, "tensors.input.range"},
      {"inverted range",
       [](auto& j) {
         j["tensors"]["input"]["range"] = {2, 1};
       },
       "min > max"},
      {"missing state", [](auto& j) { j["tensors"]["logits"].erase("state"); },
       "field 'tensors.logits.state': missing"},
      {"negative count", [](auto& j) { j["tensors"]["logits"]["state"]["count"] = -30; },
       "tensors.logits.state: field 'count'"},
      {"histogram index out of range",
       [](auto& j) { j["tensors"]["logits"]["state"]["histogram"]["bins"][0] = 99999; },
       "tensors.logits.state: field 'histogram.bins[0]'"},
      {"not an object", [](auto& j) { j = nlohmann::json::array(); }, "expected an object"},
  };
  for (const auto& c : cases) {
    auto j = valid;
    c.edit(j);
    write_text(dir / "bad.json", j.dump());
    std::string message;
    EXPECT_EQ(error_kind_of([&] { CalibrationTable::load(dir / "bad.json"); }, &message),
              ErrorKind::kInvalidArgument)
        << c.what;
    EXPECT_NE(message.find("calibration table '" + (dir / "bad.json").string() + "'"),
              std::string::npos)
        << c.what << ": " << message;
    EXPECT_NE(message.find(c.expected), std::string::npos) << c.what << ": " << message;
  }
}

TEST(CalibTable, LoadOfMissingOrNonJsonFile) {
  TempDir dir;
  std::string message;
  EXPECT_EQ(error_kind_of([&] { CalibrationTable::load(dir / "none.json"); }, &message),
            ErrorKind::kIo);
  EXPECT_NE(message.find("none.json"), std::string::npos) << message;
  write_text(dir / "text.json", "calibration: yes\n");
  EXPECT_EQ(error_kind_of([&] { CalibrationTable::load(dir / "text.json"); }, &message),
            ErrorKind::kInvalidArgument);
  EXPECT_NE(message.find("not valid JSON"), std::string::npos) << message;
  EXPECT_EQ(error_kind_of([&] { CalibrationTable::load(dir / ""); }, &message), ErrorKind::kIo);
}

// Truncated and corrupted tables load or fail with a quench::Error; nothing else.
TEST(CalibTable, TruncatedAndCorruptedFilesNeverCrash) {
  TempDir dir;
  const auto samples = make_samples(5, 7);
  for (const auto method : kAllMethods) {
    calibrate(samples, 0, samples.size(), config_of(method)).save(dir / "good.json");
    const std::string good = read_text(dir / "good.json");
    std::mt19937 rng(8);
    int failures = 0, loads = 0;
    const auto try_load = [&](const std::string& text) {
      write_text(dir / "fuzz.json", text);
      try {
        CalibrationTable::load(dir / "fuzz.json");
        ++loads;
      } catch (const Error&) {
        ++failures;
      }
    };
    for (size_t length = 0; length < good.size(); length += 1 + good.size() / 300) {
      try_load(good.substr(0, length));
    }
    constexpr char kNasty[] = "{}[]\",:-0123456789eE.tfn \x80\xff";
    for (int trial = 0; trial < 300; ++trial) {
      std::string text = good;
      for (int flips = 1 + int(rng() % 3); flips > 0; --flips) {
        text[rng() % text.size()] = kNasty[rng() % (sizeof(kNasty) - 1)];
      }
      try_load(text);
    }
    EXPECT_GT(failures, 300) << calibration_method_name(method);
    EXPECT_GT(loads + failures, 500);
  }
}

TEST(CalibTable, TensorRtCache) {
  TempDir dir;
  CalibrationTable table;
  // 127/128 / 127 = 1/128 = 0x3c000000.
  const std::vector<float> a = {-0.5f, 0.9921875f};
  table.observers.try_emplace("conv/out:0").first->second.observe(a.data(), 2);
  // max(|min|, |max|) with the negative side larger: 2.54 / 127 = 0.02.
  const std::vector<float> b = {-2.54f, 1.f};
  table.observers.try_emplace("B").first->second.observe(b.data(), 2);
  table.observers.try_emplace("never seen");
  table.save_tensorrt_cache(dir / "cache");
  const float b_scale = 2.54f / 127.f;
  char b_hex[9];
  std::snprintf(b_hex, sizeof(b_hex), "%08x", std::bit_cast<uint32_t>(b_scale));
  EXPECT_EQ(read_text(dir / "cache"),
            "TRT-8601-EntropyCalibration2\n"
            "B: " +
                std::string(b_hex) +
                "\n"
                "conv/out:0: 3c000000\n"
                "never seen: 00000000\n");
  EXPECT_EQ(std::string(b_hex), "3ca3d70a");
  table.save_tensorrt_cache(dir / "cache7", 7000);
  EXPECT_EQ(read_text(dir / "cache7").substr(0, 29), "TRT-7000-EntropyCalibration2\n");
}

}  // namespace
}  // namespace quench

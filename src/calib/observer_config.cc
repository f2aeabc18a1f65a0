#include "calib/observer_config.h"

#include <array>
#include <cmath>
#include <optional>
#include <utility>

#include "core/check.h"
#include "quench/error.h"

namespace quench {
namespace {

constexpr std::array<std::pair<CalibrationMethod, std::string_view>, 5> kMethodNames{{
    {CalibrationMethod::kMinMax, "minmax"},
    {CalibrationMethod::kMovingAverage, "movavg"},
    {CalibrationMethod::kPercentile, "percentile"},
    {CalibrationMethod::kEntropy, "entropy"},
    {CalibrationMethod::kMse, "mse"},
}};

std::optional<CalibrationMethod> find_method(std::string_view name) {
  for (const auto& [method, method_name] : kMethodNames) {
    if (method_name == name) return method;
  }
  return std::nullopt;
}

std::string method_list() {
  std::string names;
  for (const auto& entry : kMethodNames)
    names += (names.empty() ? "" : ", ") + std::string(entry.second);
  return names;
}

// The valid ranges, shared by validate_config and config_from_json.
constexpr int kMinQuantLevels = 2;
constexpr int kMaxQuantLevels = 1 << 16;
bool valid_percentile(double p) { return p > 0 && p <= 100; }
bool valid_averaging_constant(double c) { return c > 0 && c <= 1; }

}  // namespace

std::string_view calibration_method_name(CalibrationMethod method) {
  for (const auto& [known, name] : kMethodNames) {
    if (known == method) return name;
  }
  return "unknown";
}

CalibrationMethod parse_calibration_method(std::string_view name) {
  if (const auto method = find_method(name)) return *method;
  fail(ErrorKind::kInvalidArgument, "unknown calibration method '{}' (expected one of: {})", name,
       method_list());
}

namespace calib {

void validate_config(const ObserverConfig& config) {
  QUENCH_CHECK(find_method(calibration_method_name(config.method)), ErrorKind::kInvalidArgument,
               "calibration method {} is not one of {}", int(config.method), method_list());
  QUENCH_CHECK(valid_percentile(config.percentile), ErrorKind::kInvalidArgument,
               "calibration percentile must be in (0, 100], got {}", config.percentile);
  QUENCH_CHECK(valid_averaging_constant(config.averaging_constant), ErrorKind::kInvalidArgument,
               "calibration averaging constant must be in (0, 1], got {}",
               config.averaging_constant);
  QUENCH_CHECK(config.quant_levels >= kMinQuantLevels && config.quant_levels <= kMaxQuantLevels,
               ErrorKind::kInvalidArgument, "calibration quant_levels must be in [{}, {}], got {}",
               kMinQuantLevels, kMaxQuantLevels, config.quant_levels);
}

void check_same_config(const ObserverConfig& a, const ObserverConfig& b, std::string_view what) {
  if (a.method != b.method) {
    fail(ErrorKind::kInvalidArgument, "{}: configs differ in method ({} vs {})", what,
         calibration_method_name(a.method), calibration_method_name(b.method));
  }
  if (a.percentile != b.percentile) {
    fail(ErrorKind::kInvalidArgument, "{}: configs differ in percentile ({} vs {})", what,
         a.percentile, b.percentile);
  }
  if (a.averaging_constant != b.averaging_constant) {
    fail(ErrorKind::kInvalidArgument, "{}: configs differ in averaging_constant ({} vs {})", what,
         a.averaging_constant, b.averaging_constant);
  }
  if (a.quant_levels != b.quant_levels) {
    fail(ErrorKind::kInvalidArgument, "{}: configs differ in quant_levels ({} vs {})", what,
         a.quant_levels, b.quant_levels);
  }
}

bool uses_histogram(CalibrationMethod method) {
  return method == CalibrationMethod::kPercentile || method == CalibrationMethod::kEntropy ||
         method == CalibrationMethod::kMse;
}

nlohmann::json config_json(const ObserverConfig& config) {
  return {{"method", calibration_method_name(config.method)},
          {"percentile", config.percentile},
          {"averaging_constant", config.averaging_constant},
          {"quant_levels", config.quant_levels}};
}

ObserverConfig config_from_json(const JsonField& field) {
  ObserverConfig config;
  const JsonField method = field.member("method");
  const auto found = find_method(method.as_string());
  if (!found) {
    method.fail(fmt::format("unknown method '{}' (expected one of: {})", method.as_string(),
                            method_list()));
  }
  config.method = *found;
  const JsonField percentile = field.member("percentile");
  config.percentile = percentile.as_double();
  if (!valid_percentile(config.percentile)) percentile.fail("expected a value in (0, 100]");
  const JsonField constant = field.member("averaging_constant");
  config.averaging_constant = constant.as_double();
  if (!valid_averaging_constant(config.averaging_constant)) {
    constant.fail("expected a value in (0, 1]");
  }
  config.quant_levels =
      int(field.member("quant_levels").as_int64(kMinQuantLevels, kMaxQuantLevels));
  return config;
}

}  // namespace calib
}  // namespace quench

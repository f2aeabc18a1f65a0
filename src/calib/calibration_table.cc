// The calibration table file:
//   {"format": "quench-calibration", "version": 1, "config": {...}, "samples": N,
//    "tensors": {name: {"range": [min, max], "state": {...}}}}
// written one tensor per line so that tables diff well. "range" is what the state selects,
// stored for readers of the file; load() recomputes it from the state.
#include <ostream>

#include "calib/json_fields.h"
#include "calib/observer_config.h"
#include "core/file_util.h"
#include "quench/calibration.h"
#include "quench/error.h"

namespace quench {
namespace {

using nlohmann::json;

constexpr std::string_view kFormat = "quench-calibration";
constexpr int64_t kVersion = 1;

std::string origin_of(const std::filesystem::path& path) {
  return fmt::format("calibration table '{}'", path.string());
}

}  // namespace

void CalibrationTable::merge(const CalibrationTable& later) {
  if (&later == this) {
    const CalibrationTable copy(later);
    merge(copy);
    return;
  }
  calib::check_same_config(config, later.config, "cannot merge calibration tables");
  // All checks before any change, so that a failed merge leaves this table as it was.
  for (const auto& [name, observer] : later.observers) {
    const auto it = observers.find(name);
    calib::check_same_config(it == observers.end() ? config : it->second.config(),
                             observer.config(),
                             fmt::format("cannot merge calibration tables: tensor '{}'", name));
  }
  for (const auto& [name, observer] : later.observers) {
    const auto [it, added] = observers.try_emplace(name, observer);
    if (!added) it->second.merge(observer);
  }
  samples += later.samples;
}

void CalibrationTable::save(const std::filesystem::path& path) const {
  const std::string origin = origin_of(path);
  std::string text = "{\n";
  text += fmt::format("  \"format\": \"{}\",\n  \"version\": {},\n", kFormat, kVersion);
  text += fmt::format("  \"config\": {},\n", calib::dump_json(calib::config_json(config), origin));
  text += fmt::format("  \"samples\": {},\n", samples);
  text += "  \"tensors\": {";
  bool first = true;
  for (const auto& [name, observer] : observers) {
    calib::check_same_config(config, observer.config(),
                             fmt::format("{}: tensor '{}'", origin, name));
    json state = json::parse(observer.to_json());
    state.erase("config");
    const CalibratedRange range = observer.range();
    const json entry = {{"range", {calib::float_json(range.min), calib::float_json(range.max)}},
                        {"state", std::move(state)}};
    text += first ? "\n    " : ",\n    ";
    text += calib::dump_json(json(name), origin) + ": " + calib::dump_json(entry, origin);
    first = false;
  }
  text += first ? "}\n}\n" : "\n  }\n}\n";
  write_file_atomic(path, text);
}

CalibrationTable CalibrationTable::load(const std::filesystem::path& path) {
  const std::string origin = origin_of(path);
  const json j = calib::parse_json(read_file(path, "calibration table"), origin);
  const calib::JsonField root(j, origin);
  root.expect_object();
  const calib::JsonField format = root.member("format");
  if (format.as_string() != kFormat) {
    format.fail(fmt::format("expected \"{}\", got \"{}\"", kFormat, format.as_string()));
  }
  const calib::JsonField version = root.member("version");
  if (version.as_int64() != kVersion) {
    version.fail(fmt::format("unsupported version {} (this build reads version {})",
                             version.as_int64(), kVersion));
  }
  CalibrationTable table;
  const calib::JsonField config = root.member("config");
  table.config = calib::config_from_json(config);
  table.samples = root.member("samples").as_int64();
  const calib::JsonField tensors = root.member("tensors");
  tensors.expect_object();
  for (const auto& [name, value] : tensors.value().items()) {
    const calib::JsonField entry(value, origin, fmt::format("tensors.{}", name));
    const calib::JsonField range = entry.member("range");
    if (range.array_size() != 2) range.fail("expected [min, max]");
    if (range.element(0).as_float() > range.element(1).as_float()) range.fail("min > max");
    const calib::JsonField state = entry.member("state");
    state.expect_object();
    json full = state.value();
    full["config"] = config.value();
    table.observers.emplace(name,
                            Observer::from_json(calib::dump_json(full, origin),
                                                fmt::format("{}: tensors.{}.state", origin, name)));
  }
  return table;
}

}  // namespace quench

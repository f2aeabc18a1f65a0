// Reading and writing the calibration JSON: every error names the origin (file) and the path of
// the field, and numbers are written so that they read back bit-exactly.
#pragma once

#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/check.h"

namespace quench::calib {

// A JSON value and where it sits; accessors check types and ranges and throw a quench::Error
// (kInvalidArgument) "<origin>: field '<path>': <problem>" otherwise.
class JsonField {
 public:
  JsonField(const nlohmann::json& value, std::string origin, std::string path = "");

  const nlohmann::json& value() const { return *value_; }
  const std::string& origin() const { return origin_; }
  const std::string& path() const { return path_; }

  JsonField member(std::string_view key) const;  // a required member of an object
  bool has(std::string_view key) const;
  size_t array_size() const;  // requires an array
  JsonField element(size_t index) const;

  int64_t as_int64(int64_t min = 0, int64_t max = std::numeric_limits<int64_t>::max()) const;
  double as_double() const;  // finite
  float as_float() const;    // finite and within the float range
  std::string as_string() const;
  void expect_object() const;

  [[noreturn]] void fail(std::string_view problem) const;

 private:
  const nlohmann::json* value_;
  std::string origin_;
  std::string path_;
};

// The shortest decimal that reads back as the same float, as a JSON number.
nlohmann::json float_json(float value);

// Parses `text`; kInvalidArgument naming `origin` and the position of a syntax error.
nlohmann::json parse_json(std::string_view text, std::string_view origin);
// Compact text; kInvalidArgument naming `origin` when a string is not valid UTF-8.
std::string dump_json(const nlohmann::json& value, std::string_view origin);

}  // namespace quench::calib

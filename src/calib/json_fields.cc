#include "calib/json_fields.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/check.h"
#include "quench/error.h"

namespace quench::calib {
namespace {

// Nesting deeper than any calibration JSON, refused before it costs memory.
constexpr int kMaxDepth = 16;

std::string_view type_name(const nlohmann::json& value) {
  if (value.is_number_integer()) return "an integer";
  if (value.is_number_float()) return "a number";
  return value.type_name();
}

}  // namespace

JsonField::JsonField(const nlohmann::json& value, std::string origin, std::string path)
    : value_(&value), origin_(std::move(origin)), path_(std::move(path)) {}

void JsonField::fail(std::string_view problem) const {
  if (path_.empty()) quench::fail(ErrorKind::kInvalidArgument, "{}: {}", origin_, problem);
  quench::fail(ErrorKind::kInvalidArgument, "{}: field '{}': {}", origin_, path_, problem);
}

void JsonField::expect_object() const {
  if (!value_->is_object()) fail(fmt::format("expected an object, got {}", type_name(*value_)));
}

bool JsonField::has(std::string_view key) const {
  return value_->is_object() && value_->contains(key);
}

JsonField JsonField::member(std::string_view key) const {
  expect_object();
  const std::string path = path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
  const auto it = value_->find(key);
  if (it == value_->end()) JsonField(*value_, origin_, path).fail("missing");
  return JsonField(*it, origin_, path);
}

size_t JsonField::array_size() const {
  if (!value_->is_array()) fail(fmt::format("expected an array, got {}", type_name(*value_)));
  return value_->size();
}

JsonField JsonField::element(size_t index) const {
  if (index >= array_size()) fail(fmt::format("expected at least {} elements", index + 1));
  return JsonField((*value_)[index], origin_, fmt::format("{}[{}]", path_, index));
}

int64_t JsonField::as_int64(int64_t min, int64_t max) const {
  int64_t result = 0;
  if (value_->is_number_unsigned()) {
    const auto value = value_->get<uint64_t>();
    if (value > uint64_t(std::numeric_limits<int64_t>::max())) {
      fail(fmt::format("expected an integer in [{}, {}], got {}", min, max, value));
    }
    result = int64_t(value);
  } else if (value_->is_number_integer()) {
    result = value_->get<int64_t>();
  } else {
    fail(fmt::format("expected an integer, got {}", type_name(*value_)));
  }
  if (result < min || result > max) {
    fail(fmt::format("expected an integer in [{}, {}], got {}", min, max, result));
  }
  return result;
}

double JsonField::as_double() const {
  if (!value_->is_number()) fail(fmt::format("expected a number, got {}", type_name(*value_)));
  const auto value = value_->get<double>();
  if (!std::isfinite(value)) fail("expected a finite number");
  return value;
}

float JsonField::as_float() const {
  const double value = as_double();
  // Doubles from here up round to infinity (half an ulp above the largest float).
  const double overflow = std::ldexp(1.0, 128) - std::ldexp(1.0, 103);
  if (std::abs(value) >= overflow) fail(fmt::format("{} is outside the float range", value));
  return float(value);
}

std::string JsonField::as_string() const {
  if (!value_->is_string()) fail(fmt::format("expected a string, got {}", type_name(*value_)));
  return value_->get<std::string>();
}

nlohmann::json float_json(float value) {
  // Shortest decimal for the float, read as a double: that double prints as the same short
  // decimal and rounds back to the float exactly.
  char text[32];
  const auto result = std::to_chars(text, text + sizeof(text), value);
  *result.ptr = '\0';
  return std::strtod(text, nullptr);
}

nlohmann::json parse_json(std::string_view text, std::string_view origin) {
  const auto limit_depth = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) {
      quench::fail(ErrorKind::kInvalidArgument, "{}: JSON nested deeper than {} levels", origin,
                   kMaxDepth);
    }
    return true;
  };
  try {
    return nlohmann::json::parse(text.begin(), text.end(), limit_depth);
  } catch (const nlohmann::json::exception& e) {
    quench::fail(ErrorKind::kInvalidArgument, "{}: not valid JSON: {}", origin, e.what());
  }
}

std::string dump_json(const nlohmann::json& value, std::string_view origin) {
  try {
    return value.dump();
  } catch (const nlohmann::json::exception& e) {
    quench::fail(ErrorKind::kInvalidArgument, "{}: cannot write JSON: {}", origin, e.what());
  }
}

}  // namespace quench::calib

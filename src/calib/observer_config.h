// Checking, comparing and (de)serializing ObserverConfig.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "calib/json_fields.h"
#include "quench/calibration.h"

namespace quench::calib {

// kInvalidArgument naming the field when a value is outside its documented range.
void validate_config(const ObserverConfig& config);
// kInvalidArgument "<what>: configs differ in <field> (<a> vs <b>)" when they differ.
void check_same_config(const ObserverConfig& a, const ObserverConfig& b, std::string_view what);

// Whether the method keeps a FloatHistogram.
bool uses_histogram(CalibrationMethod method);

nlohmann::json config_json(const ObserverConfig& config);
ObserverConfig config_from_json(const JsonField& field);

}  // namespace quench::calib

// The finite extremes of a batch of floats and how many values were NaN or infinite: the one
// pass every observer makes over its input.
#pragma once

#include <cstdint>

namespace quench::calib {

struct FiniteScan {
  int64_t finite = 0;
  int64_t nonfinite = 0;
  float min = 0.f;  // meaningful when finite > 0
  float max = 0.f;
};

FiniteScan scan_finite(const float* values, int64_t count);

// The smaller/larger of two floats in the IEEE total order (-0 < +0), so that a result never
// depends on the order in which values or shards were combined.
float total_order_min(float a, float b);
float total_order_max(float a, float b);

}  // namespace quench::calib

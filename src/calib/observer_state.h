// The state behind quench::Observer, shared by its observing and its JSON code.
#pragma once

#include <cstdint>

#include "calib/float_histogram.h"
#include "calib/moving_average.h"
#include "quench/calibration.h"

namespace quench {

struct Observer::State {
  ObserverConfig config;
  int64_t count = 0;      // finite values
  int64_t nonfinite = 0;  // NaN and infinities
  int64_t batches = 0;    // observe() calls
  float min = 0.f;        // exact extremes of the finite values; 0 while count == 0
  float max = 0.f;
  // kMovingAverage only: the averages of the per-batch extremes.
  calib::MovingAverage average_min;
  calib::MovingAverage average_max;
  // Histogram methods only.
  calib::FloatHistogram histogram;
};

}  // namespace quench

// The exponential moving average of a per-batch statistic (PyTorch's
// MovingAverageMinMaxObserver), kept in a form that merges exactly: docs/quantization.md
// eqs. (7)-(9).
#pragma once

#include <cstdint>

namespace quench::calib {

struct MovingAverage {
  int64_t steps = 0;     // batches averaged
  double running = 0;    // the average as one run computes it (first batch sets it), eq. (7)
  double from_zero = 0;  // the same updates started from 0, eq. (8)
  double decay = 1;      // (1 - c)^steps: the weight left to what came before, eq. (8)

  // One batch's statistic with averaging constant c.
  void update(double value, double c);
  // Folds in the average over batches that came after these, eq. (9).
  void merge(const MovingAverage& later);
};

}  // namespace quench::calib

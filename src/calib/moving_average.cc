#include "calib/moving_average.h"

namespace quench::calib {

void MovingAverage::update(double value, double c) {
  running = steps == 0 ? value : running + c * (value - running);  // eq. (7)
  from_zero = from_zero + c * (value - from_zero);                 // eq. (8)
  decay *= 1 - c;
  ++steps;
}

void MovingAverage::merge(const MovingAverage& later) {
  if (later.steps == 0) return;
  if (steps == 0) {
    *this = later;
    return;
  }
  // eq. (9): the later batches, replayed after these, see `running` as their starting value.
  running = later.decay * running + later.from_zero;
  from_zero = later.decay * from_zero + later.from_zero;
  decay *= later.decay;
  steps += later.steps;
}

}  // namespace quench::calib

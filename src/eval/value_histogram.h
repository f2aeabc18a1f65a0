// A fixed-range histogram filled batch by batch (quench compare, quench report).
#pragma once

#include <cstdint>

#include "quench/compare.h"

namespace quench {

// Sets the range and `bins` zero counts.
void reset_histogram(ValueHistogram& h, double lo, double hi, int bins);
void add_to_histogram(ValueHistogram& h, const float* values, int64_t n);

}  // namespace quench

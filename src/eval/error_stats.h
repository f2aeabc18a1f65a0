// Streaming error statistics of one tensor of B against A (docs/quantization.md eqs. (91)-(94)):
// sums accumulated over batches, nothing of the tensors kept.
#pragma once

#include <cstdint>

#include "quench/compare.h"

namespace quench {

class ErrorStats {
 public:
  // Adds `n` element pairs.
  void add(const float* a, const float* b, int64_t n);
  // Fills the statistics fields of `out` (name fields untouched).
  void finish(TensorComparison& out) const;
  int64_t count() const { return count_; }

 private:
  int64_t count_ = 0;
  double aa_ = 0, bb_ = 0, ab_ = 0, noise_ = 0, max_abs_ = 0;
};

}  // namespace quench

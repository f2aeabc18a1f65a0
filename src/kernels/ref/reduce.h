// Reference reductions (ReduceSum, ReduceMean, ...) and ArgMax/ArgMin.
#pragma once

#include <cstdint>

#include "quench/tensor.h"

namespace quench::ref {

enum class ReduceOp { kSum, kMean, kMax, kMin, kProd, kL1, kL2, kSumSquare, kLogSum, kLogSumExp };

// Where a reduction reads: output element `out` (row-major over the kept dims) combines the
// input elements at base[out] + inner[r] for r < inner_count.
struct ReduceLayout {
  const int64_t* base = nullptr;
  int64_t out_count = 0;
  const int64_t* inner = nullptr;
  int64_t inner_count = 0;
};

// Fills `base` (the product of the kept dims entries) and `inner` (the product of the reduced
// dims entries) for reducing a row-major tensor of shape `input` over the dims whose bit is set
// in `reduced_dims` (bit d for dim d). With no bit set every output reads one element.
void reduction_offsets(const Shape& input, uint64_t reduced_dims, int64_t* base, int64_t* inner);

// Sums accumulate in double (float types) or int64 (integer types), in the order of `inner`.
// An empty reduction gives 0 (Sum, Mean of integers, L1, L2, SumSquare), 1 (Prod), NaN (Mean of
// floats), -inf (LogSum, LogSumExp) and the lowest / highest value (Max / Min). NaNs propagate
// through Max and Min.
template <class T>
void reduce(ReduceOp op, const ReduceLayout& layout, const T* x, T* y);

// ArgMax / ArgMin of x viewed as [outer, axis, inner] along the middle dim (axis >= 1): the first
// extreme index, or the last with select_last.
struct ArgReduceParams {
  bool max = true;
  bool select_last = false;
  int64_t outer = 0, axis = 0, inner = 0;
};
template <class T>
void arg_reduce(const ArgReduceParams& p, const T* x, int64_t* y);

}  // namespace quench::ref

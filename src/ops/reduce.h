// Attributes of the Reduce* ops, shared by the reference and oneDNN kernels.
#pragma once

#include <vector>

#include "quench/graph.h"

namespace quench {

struct ReduceAttrs {
  bool keepdims = true;
  // With empty axes: reduce nothing (each output reads one element) instead of every dim.
  bool noop_with_empty_axes = false;
  // The axes are an input (ReduceSum from opset 13, every reduction from 18) whose value is only
  // known when the node runs; `axes` is then empty and meaningless.
  bool axes_at_run_time = false;
  std::vector<int64_t> axes;  // as written (possibly negative); empty: see noop_with_empty_axes
};

// `axes_value` is the axes input's value when known before running; `axes_count` its element
// count when its shape is known (-1 otherwise; 0 means empty axes even when the value is not).
ReduceAttrs reduce_attrs(const Node& node, int64_t opset, const Tensor* axes_value,
                         int64_t axes_count);

// Bit d set when dim d of a rank-`rank` input is reduced. kInvalidModel naming `node` on an axis
// out of range; kUnsupported for ranks above 64.
uint64_t reduced_dims(const ReduceAttrs& attrs, int64_t rank, const Node& node);

}  // namespace quench

// Numpy broadcasting for reference kernels: how an input is read at each output position.
#pragma once

#include <cstdint>

#include "quench/tensor.h"

namespace quench::ref {

// Highest rank broadcasting handles (checked when strides are computed, at build time).
inline constexpr int kMaxBroadcastRank = 16;

// Strides (in elements) to read `input` as if it had shape `output` (0 on broadcast dims);
// kUnsupported beyond kMaxBroadcastRank.
Shape broadcast_strides(const Shape& input, const Shape& output);

}  // namespace quench::ref

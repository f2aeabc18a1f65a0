// Numpy broadcasting for reference kernels: element offsets of each input for every output
// element, walked in row-major order.
#pragma once

#include <array>
#include <cstdint>

#include "quench/tensor.h"

namespace quench::ref {

// Highest rank the broadcasting walk handles (checked when strides are computed, at build time).
inline constexpr int kMaxBroadcastRank = 16;

// Strides (in elements) to read `input` as if it had shape `output` (0 on broadcast dims);
// kUnsupported beyond kMaxBroadcastRank.
Shape broadcast_strides(const Shape& input, const Shape& output);

// Calls fn(out_index, offset_a, offset_b) for every element of `output`.
template <class Fn>
void for_each_broadcast(const Shape& output, const Shape& stride_a, const Shape& stride_b,
                        Fn&& fn) {
  const int rank = static_cast<int>(output.size());
  const int64_t total = shape_numel(output);
  if (total == 0) return;
  std::array<int64_t, kMaxBroadcastRank> index{};  // no allocation in kernels' run()
  int64_t a = 0, b = 0;
  for (int64_t i = 0; i < total; ++i) {
    fn(i, a, b);
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < output[d]) {
        a += stride_a[d];
        b += stride_b[d];
        break;
      }
      a -= stride_a[d] * (output[d] - 1);
      b -= stride_b[d] * (output[d] - 1);
      index[d] = 0;
    }
  }
}

}  // namespace quench::ref

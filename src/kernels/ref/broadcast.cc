#include "kernels/ref/broadcast.h"

#include "core/check.h"

namespace quench::ref {

Shape broadcast_strides(const Shape& input, const Shape& output) {
  const size_t rank = output.size();
  QUENCH_CHECK(rank <= static_cast<size_t>(kMaxBroadcastRank), ErrorKind::kUnsupported,
               "broadcasting over rank {} is not supported (at most {})", rank, kMaxBroadcastRank);
  Shape strides(rank, 0);
  int64_t stride = 1;
  for (size_t k = 0; k < input.size(); ++k) {
    const size_t in_dim = input.size() - 1 - k;
    const size_t out_dim = rank - 1 - k;
    strides[out_dim] = input[in_dim] == 1 ? 0 : stride;
    stride *= input[in_dim];
  }
  return strides;
}

}  // namespace quench::ref

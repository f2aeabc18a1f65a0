// The gradient of a float Softmax on oneDNN's softmax backward primitive: dx = y ⊙ (dy −
// Σ_axis dy ⊙ y) over a tensor read as [outer, size, inner], the softmax along `size`.
// Primitives are made once per shape and shared (train/gradients/softmax.cc calls it; its loop is
// the reference it is tested against).
#pragma once

#include <cstdint>

namespace quench::onednn {

// dx (overwritten) from the forward output y and dy; false (nothing written) when oneDNN has no
// implementation.
bool softmax_backward(int64_t outer, int64_t size, int64_t inner, const float* y, const float* dy,
                      float* dx);

}  // namespace quench::onednn

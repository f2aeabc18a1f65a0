// The gradient of an element-wise activation on oneDNN's eltwise backward primitive, over n
// contiguous floats: dx = dy ⊙ f'(·), from the forward input (Relu, Clip, HardSwish) or from the
// forward output (Sigmoid, Tanh: y (1 − y) and (1 − y)(1 + y)). Primitives are made once per kind,
// bounds and length and shared (train/gradients/activation.cc calls them; its loops are the
// reference they are tested against).
#pragma once

#include <cstdint>

namespace quench::onednn {

enum class EltwiseGrad {
  kRelu,       // from x: 1 where x > 0
  kClip,       // from x: 1 where lo < x < hi (oneDNN's clip_v2 and PyTorch's hardtanh)
  kHardSwish,  // from x: 0 up to −3, (2x + 3)/6 between, 1 from 3 on
  kSigmoid,    // from y
  kTanh,       // from y
};

// dx[i] = dy[i] · f'(data[i]) for i < n, where data is x or y as `kind` says; false (nothing
// written) when oneDNN has no implementation.
bool eltwise_backward(EltwiseGrad kind, const float* data, const float* dy, float* dx, int64_t n,
                      float lo = 0.f, float hi = 0.f);

}  // namespace quench::onednn

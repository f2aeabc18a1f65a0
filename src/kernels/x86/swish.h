// float32 Swish, x · sigmoid(x) (SiLU), as a vectorized loop of quench's own (eq. (164) of
// docs/quantization.md): sigmoid from e = exp(−|x|) by eq. (153), so nothing overflows. oneDNN
// 2.6's swish, as an element-wise primitive or a convolution's post-op, costs about 0.67 ns per
// value on a Zen 4 core; EfficientNet-like networks apply it to every expanded and depthwise
// activation. Chosen once per process for the CPU (swish_impl.h, compiled for AVX-512, AVX2 and
// the baseline); the reference, x / (1 + exp(−x)), is the oracle of the tests.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

#include "ops/op_registry.h"

namespace quench::x86 {

// Bound on |y − x·sigmoid(x)| / |x·sigmoid(x)| (eq. (164)) where the exact value is at least
// kSwishTinyBelow in magnitude; below it (x < ln 2^−125 · ...), |y − exact| < kSwishTinyBelow.
constexpr float kSwishMaxRelError = 5 * std::numeric_limits<float>::epsilon();
constexpr float kSwishTinyBelow = 1e-35f;

// y = x · sigmoid(x) over `count` values (y may be x).
using SwishLoop = void (*)(const float* x, float* y, int64_t count);

// The loop for this CPU.
SwishLoop swish_loop();

// The internal Swish op on float32 (nullptr for another type).
std::unique_ptr<Kernel> make_swish(KernelContext& ctx);

}  // namespace quench::x86

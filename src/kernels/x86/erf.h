// ONNX Erf on float32 as one vectorized loop: erf(x) = x·α(x²)/β(x²) on x clamped to [−4, 4], the
// rational approximation Eigen and XLA use (eq. (139) of docs/quantization.md), in place of the
// reference's std::erf per element. Chosen once per process for the CPU (erf_impl.h has the loop,
// compiled for AVX2 and the baseline); the reference is the oracle of its tests.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

#include "ops/op_registry.h"

namespace quench::x86 {

// Absolute error bound of the loop against the exact erf for every float input: 4 ulps of 1. The
// rational function's own error on [−4, 4] plus float rounding peaks at 4.49e-7 (x ≈ 3.93, over
// every 7th float of |x| < 8); the clamp costs 1 − erf(4) = 1.5e-8. NaN gives NaN, ±inf ±1.
// The relative error is bounded only where x·α stays a normal float (|x| > 1e-36).
constexpr float kErfMaxAbsError = 4 * std::numeric_limits<float>::epsilon();

using ErfLoop = void (*)(const float* x, float* y, int64_t count);

// The loop for this CPU; `y` may be `x`.
ErfLoop erf_loop();

// The Erf kernel on float32 (nullptr for another type: the reference runs it).
std::unique_ptr<Kernel> make_erf(KernelContext& ctx);

}  // namespace quench::x86

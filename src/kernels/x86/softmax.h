// ONNX Softmax on float32 as vectorized loops of quench's own (eq. (153) of docs/quantization.md):
// the maximum, exp(x − max) by a polynomial after a power-of-two split, the sum, one reciprocal.
// oneDNN 2.6's softmax takes 1.5 ns per value on a transformer's attention scores (rows of 50),
// against 0.9 on uniform random data; these loops take 0.7 (vit's [32, 4, 50, 50] scores: 0.22
// against 0.49-0.52 ms). Rows (softmax over the last axis) run one register of lanes at a time
// (16 with AVX-512, 8 with AVX2, 4 with SSE) and one overlapping last vector; softmax over an
// inner axis of 16 or more values runs a vector of columns at a time. Chosen
// once per process for the CPU (softmax_impl.h has the loops, compiled for AVX-512, AVX2 and the
// baseline); the reference, computed in double, is the oracle of the tests.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>

#include "ops/op_registry.h"

namespace quench::x86 {

// Relative error bound of the loops' exp against the exact exp on [ln 2^−125, 0] (below, the
// result is 0): the Cephes polynomial's error after the power-of-two split plus float rounding,
// measured at 7.9e-8 (0.66 ε) over every 2^−10 step of that range.
constexpr float kExpMaxRelError = 2 * std::numeric_limits<float>::epsilon();

// x viewed as [outer, axis, inner], softmax along the middle dim into y (y may be x when
// inner == 1).
using SoftmaxLoop = void (*)(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner);

// The loop for this CPU.
SoftmaxLoop softmax_loop();

// The exp of those loops over `count` values (for the tests).
using ExpLoop = void (*)(const float* x, float* y, int64_t count);
ExpLoop exp_loop();

// The Softmax kernel on float32 (nullptr for another type, or an inner axis of 2 to 15 values).
std::unique_ptr<Kernel> make_softmax(KernelContext& ctx);

}  // namespace quench::x86

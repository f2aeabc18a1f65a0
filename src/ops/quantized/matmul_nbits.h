// com.microsoft MatMulNBits (opset 1): the node's attributes and inputs checked once, for shape
// inference, the reference kernel (kernels/ref/nbits_matmul.h) and the fast kernels
// (kernels/x86/nbits_gemv.h).
#pragma once

#include <array>

#include "kernels/ref/nbits_matmul.h"
#include "ops/op_registry.h"

namespace quench {

enum NBitsInput : size_t {
  kNBitsA,
  kNBitsB,
  kNBitsScales,
  kNBitsZeroPoints,
  kNBitsGIdx,
  kNBitsBias
};
constexpr size_t kNBitsInputCount = 6;

// K, N, bits (2-8), block_size (a power of two >= 16) from the attributes; kInvalidModel naming
// the node otherwise.
ref::NBitsShape parse_nbits_attributes(const Node& node);

// What is known of the inputs: type (kUndefined when absent or unknown) and shape (nullptr when
// unknown). Fails naming the node, the input and expected vs got for inconsistent sizes.
struct NBitsInputs {
  std::array<bool, kNBitsInputCount> present{};
  std::array<DType, kNBitsInputCount> types{};
  std::array<const SymbolicShape*, kNBitsInputCount> shapes{};
};
void check_nbits_inputs(const Node& node, const ref::NBitsShape& s, const NBitsInputs& in);

// The run-time weights of a kernel built for `ctx` (pointers filled from the run's arguments).
struct NBitsKernelPlan {
  ref::NBitsShape shape;
  int64_t m = 0;  // rows of A (all leading dims)
  bool float_zero_points = false;
  bool has_zero_points = false, has_g_idx = false, has_bias = false;
};
// Checks the node's inputs at kernel-build time (concrete shapes) and describes the product.
NBitsKernelPlan plan_nbits_kernel(const KernelContext& ctx);
ref::NBitsWeights nbits_weights(const NBitsKernelPlan& p, const void* const* inputs);

}  // namespace quench

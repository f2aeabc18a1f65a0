// Small dense kernels the rounding algorithms share (vectorized through OpenMP SIMD reductions,
// since the build does not reassociate float sums on its own).
#pragma once

#include <cstdint>
#include <vector>

namespace quench::quant::lowbit {

float dot(const float* a, const float* b, int64_t n);

// H = Xᵀ·X / m (k × k, double) over the columns [col0, col0 + k) of the m rows of X (row
// stride ld): the Gram matrix GPTQ's Hessian is made of (eq. (70)).
std::vector<double> gram(const float* x, int64_t m, int64_t ld, int64_t col0, int64_t k);

}  // namespace quench::quant::lowbit

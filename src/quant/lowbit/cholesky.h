// Dense symmetric positive-definite helpers for GPTQ (docs/quantization.md eq. (73)), in double.
#pragma once

#include <cstdint>
#include <vector>

namespace quench::quant::lowbit {

// In place: the lower factor L of A = L·Lᵀ (n × n, row-major; the upper triangle is zeroed).
// false when A is not positive definite.
bool cholesky_lower(std::vector<double>& a, int64_t n);

// Solves L·Lᵀ·X = B in place: `l` is the lower factor of cholesky_lower (n × n), b holds B
// (n × cols, row-major), all columns at once.
void cholesky_solve(const std::vector<double>& l, int64_t n, double* b, int64_t cols);
// The upper factor U of A⁻¹ = Uᵀ·U for positive-definite A (what GPTQ reads its row updates
// from); false when A is not positive definite.
bool inverse_cholesky_upper(const std::vector<double>& a, int64_t n, std::vector<double>& u);

}  // namespace quench::quant::lowbit

#include "quant/lowbit/cholesky.h"

#include <cmath>

namespace quench::quant::lowbit {
namespace {

double dot(const double* a, const double* b, int64_t n) {
  double s = 0.0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

}  // namespace

bool cholesky_lower(std::vector<double>& a, int64_t n) {
  for (int64_t j = 0; j < n; ++j) {
    const double d = a[j * n + j] - dot(&a[j * n], &a[j * n], j);
    if (!(d > 0.0)) return false;
    const double l = std::sqrt(d);
    a[j * n + j] = l;
    for (int64_t i = j + 1; i < n; ++i) {
      a[i * n + j] = (a[i * n + j] - dot(&a[i * n], &a[j * n], j)) / l;
    }
    for (int64_t k = j + 1; k < n; ++k) a[j * n + k] = 0.0;
  }
  return true;
}

void cholesky_solve(const std::vector<double>& l, int64_t n, double* b, int64_t cols) {
  // L·Y = B, then Lᵀ·X = Y, a row of B (all its columns) at a time.
  for (int64_t i = 0; i < n; ++i) {
    double* bi = &b[i * cols];
    for (int64_t j = 0; j < i; ++j) {
      const double lij = l[i * n + j];
      const double* bj = &b[j * cols];
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) bi[c] -= lij * bj[c];
    }
    for (int64_t c = 0; c < cols; ++c) bi[c] /= l[i * n + i];
  }
  for (int64_t i = n - 1; i >= 0; --i) {
    double* bi = &b[i * cols];
    for (int64_t j = i + 1; j < n; ++j) {
      const double lji = l[j * n + i];
      const double* bj = &b[j * cols];
#pragma omp simd
      for (int64_t c = 0; c < cols; ++c) bi[c] -= lji * bj[c];
    }
    for (int64_t c = 0; c < cols; ++c) bi[c] /= l[i * n + i];
  }
}

bool inverse_cholesky_upper(const std::vector<double>& a, int64_t n, std::vector<double>& u) {
  // With J the reversal of the indices and J·A·J = L'·L'ᵀ, A⁻¹ = (J·L'⁻¹·J)ᵀ·(J·L'⁻¹·J), and
  // J·L'⁻¹·J is upper triangular with a positive diagonal: the factor asked for. One
  // factorization and one triangular inverse, rows at a time.
  std::vector<double> l(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) l[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  }
  if (!cholesky_lower(l, n)) return false;
  // X = L'⁻¹, row by row: X_i = (e_i − Σ_(k<i) L'_ik·X_k) / L'_ii.
  std::vector<double> x(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double* xi = &x[i * n];
    for (int64_t k = 0; k < i; ++k) {
      const double f = l[i * n + k];
      const double* xk = &x[k * n];
#pragma omp simd
      for (int64_t c = 0; c <= k; ++c) xi[c] -= f * xk[c];
    }
    xi[i] += 1.0;
    const double d = l[i * n + i];
    for (int64_t c = 0; c <= i; ++c) xi[c] /= d;
  }
  u.assign(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) u[i * n + j] = x[(n - 1 - i) * n + (n - 1 - j)];
  }
  return true;
}

}  // namespace quench::quant::lowbit

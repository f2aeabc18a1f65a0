// Reference matrix products: the oracles the oneDNN Gemm/MatMul kernels are tested against, and
// the run-time path for shapes oneDNN does not take. Plain loops, single-threaded, row-major.
//
// Accumulation order (what a fast kernel is compared with): each output element is one running
// sum in T, starting at 0 and adding op(A)[m][k] * op(B)[k][n] for k = 0, 1, ..., K-1 in
// that order; Gemm then computes alpha * sum + beta * C. No wider accumulator is used.
#pragma once

#include <cstdint>
#include <vector>

namespace quench::ref {

// Y[M,N] = alpha * op(A) * op(B) + beta * C, where op(A) is [M,K] (A is [K,M] when trans_a) and
// op(B) is [K,N] (B is [N,K] when trans_b).
struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.f;
  float beta = 1.f;
  // C[m][n] is read at c[m * c_row_stride + n * c_col_stride]; 0 strides broadcast C.
  int64_t c_row_stride = 0;
  int64_t c_col_stride = 0;
};

// `c` may be nullptr (no C); with beta == 0, C is not read (the BLAS convention).
template <class T>
void gemm(const GemmParams& p, const T* a, const T* b, const T* c, T* y);

// A batch of [M,K] x [K,N] products; batch `i` reads A at a_offsets[i] and B at b_offsets[i]
// (elements) and writes Y at i * M * N.
struct MatMulParams {
  int64_t M = 0, N = 0, K = 0;
  std::vector<int64_t> a_offsets;
  std::vector<int64_t> b_offsets;
};

template <class T>
void matmul(const MatMulParams& p, const T* a, const T* b, T* y);

}  // namespace quench::ref

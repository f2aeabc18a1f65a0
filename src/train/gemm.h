// Row-major float GEMM for the training kernels: C = alpha * op(A) op(B) + beta * C, with op(X)
// = X or X^T. oneDNN's sgemm when quench is built with oneDNN, else a plain loop nest.
#pragma once

#include <cstdint>

namespace quench::train {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

}  // namespace quench::train

#include "kernels/ref/linalg.h"

#include <algorithm>

namespace quench::ref {

template <class T>
void gemm(const GemmParams& p, const T* a, const T* b, const T* c, T* y) {
  const int64_t M = p.M, N = p.N, K = p.K;
  // op(A)[m][k] is a[m * a_row_step + k * a_k_step].
  const int64_t a_row_step = p.trans_a ? 1 : K;
  const int64_t a_k_step = p.trans_a ? M : 1;
  const T alpha = static_cast<T>(p.alpha);
  const T beta = static_cast<T>(p.beta);
  const bool use_c = c != nullptr && p.beta != 0.f;
  for (int64_t out_row = 0; out_row < M; ++out_row) {
    const T* a_row = a + out_row * a_row_step;
    T* y_row = y + out_row * N;
    if (!p.trans_b) {
      // i-k-j order: the inner loop walks contiguous rows of B and Y, and y_row holds the N
      // running sums (each still accumulates k = 0..K-1 in order).
      std::fill(y_row, y_row + N, T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T a_value = a_row[k * a_k_step];
        const T* b_row = b + k * N;
        for (int64_t out_col = 0; out_col < N; ++out_col)
          y_row[out_col] += a_value * b_row[out_col];
      }
    } else {
      // B is [N,K]: its row out_col is contiguous in k, so each output is a dot product.
      for (int64_t out_col = 0; out_col < N; ++out_col) {
        const T* b_row = b + out_col * K;
        T sum = 0;
        for (int64_t k = 0; k < K; ++k) sum += a_row[k * a_k_step] * b_row[k];
        y_row[out_col] = sum;
      }
    }
    const T* c_row = use_c ? c + out_row * p.c_row_stride : nullptr;
    for (int64_t out_col = 0; out_col < N; ++out_col) {
      T value = alpha * y_row[out_col];
      if (use_c) value += beta * c_row[out_col * p.c_col_stride];
      y_row[out_col] = value;
    }
  }
}

template <class T>
void matmul(const MatMulParams& p, const T* a, const T* b, T* y) {
  const int64_t M = p.M, N = p.N, K = p.K;
  for (size_t batch = 0; batch < p.a_offsets.size(); ++batch) {
    const T* a_matrix = a + p.a_offsets[batch];
    const T* b_matrix = b + p.b_offsets[batch];
    T* y_matrix = y + static_cast<int64_t>(batch) * M * N;
    for (int64_t out_row = 0; out_row < M; ++out_row) {
      const T* a_row = a_matrix + out_row * K;
      T* y_row = y_matrix + out_row * N;
      // i-k-j order, as in gemm(): y_row holds the running sums.
      std::fill(y_row, y_row + N, T(0));
      for (int64_t k = 0; k < K; ++k) {
        const T a_value = a_row[k];
        const T* b_row = b_matrix + k * N;
        for (int64_t out_col = 0; out_col < N; ++out_col)
          y_row[out_col] += a_value * b_row[out_col];
      }
    }
  }
}

template void gemm<float>(const GemmParams&, const float*, const float*, const float*, float*);
template void gemm<double>(const GemmParams&, const double*, const double*, const double*, double*);
template void matmul<float>(const MatMulParams&, const float*, const float*, float*);
template void matmul<double>(const MatMulParams&, const double*, const double*, double*);

}  // namespace quench::ref

// Reference integer matrix products on centered operands: the exact int64 sums MatMulInteger,
// QLinearMatMul and QGemm share, handed to an epilogue (docs/quantization.md, eqs. (34), (39)).
#pragma once

#include <cstdint>
#include <vector>

namespace quench::ref {

// A batch of products acc[m][n] = Σ_k A[m][k] · B[k][n]. Both operands are centered (value minus
// zero point, int16) and row-major along k: A as [M, K] and B transposed, as [N, K], so that
// every sum is a contiguous dot product. Batch i reads A at a_offsets[i] and B at b_offsets[i].
struct CenteredMatMul {
  int64_t M = 0, N = 0, K = 0;
  std::vector<int64_t> a_offsets;
  std::vector<int64_t> b_offsets;
};

// Calls store(batch, row, col, sum) for every output. Overflow: |A·B term| <= 255 · 255 < 2^16
// and K < 2^36, so the int64 sum is exact (eq. (34)).
template <class Store>
void matmul_centered(const CenteredMatMul& p, const int16_t* a, const int16_t* b_transposed,
                     Store&& store) {
  for (size_t batch = 0; batch < p.a_offsets.size(); ++batch) {
    const int16_t* a_matrix = a + p.a_offsets[batch];
    const int16_t* b_matrix = b_transposed + p.b_offsets[batch];
    for (int64_t row = 0; row < p.M; ++row) {
      const int16_t* a_row = a_matrix + row * p.K;
      for (int64_t col = 0; col < p.N; ++col) {
        const int16_t* b_col = b_matrix + col * p.K;
        int64_t sum = 0;
        for (int64_t k = 0; k < p.K; ++k) sum += int32_t{a_row[k]} * b_col[k];
        store(static_cast<int64_t>(batch), row, col, sum);
      }
    }
  }
}

}  // namespace quench::ref

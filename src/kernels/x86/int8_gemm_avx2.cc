// The GEMM core alone (int8_gemm.h), for tests and benchmarks. Compiled with -mavx2 -mfma.
#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_gemm.h"
#include "kernels/x86/int8_tile_avx2.h"

namespace quench::x86::avx2 {

void gemm_s16(int64_t m, int64_t n, int64_t pairs, PackedA a, PackedB b, int32_t* c, int64_t ldc) {
  // Blocks of rows whose A stays in L1 while every panel of B passes by.
  constexpr int64_t kBlockRows = 8 * kTileRows;
  alignas(32) int32_t sums[kTileRows * kTileCols];
  for (int64_t block = 0; block < m; block += kBlockRows) {
    const int64_t block_end = std::min(m, block + kBlockRows);
    for (int64_t col = 0; col < n; col += kTileCols) {
      const int32_t* panel = b.data + col / kTileCols * b.panel_stride;
      const int64_t count = std::min<int64_t>(kTileCols, n - col);
      for (int64_t row = block; row < block_end; row += kTileRows) {
        const int rows = static_cast<int>(std::min<int64_t>(kTileRows, block_end - row));
        if (count == kTileCols) {
          matrix_tile(rows, a.data + row * a.row_stride, a.row_stride, pairs, panel,
                      c + row * ldc + col, ldc);
          continue;
        }
        matrix_tile(rows, a.data + row * a.row_stride, a.row_stride, pairs, panel, sums);
        for (int r = 0; r < rows; ++r) {
          std::memcpy(c + (row + r) * ldc + col, sums + r * kTileCols,
                      static_cast<size_t>(count) * sizeof(int32_t));
        }
      }
    }
  }
}

}  // namespace quench::x86::avx2

#include "kernels/x86/nbits_gemm.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/parallel_units.h"

namespace quench::x86 {

int64_t int4_gemm_min_rows(Int4Isa isa) { return isa == Int4Isa::kAvx512 ? 3 : 4; }

Int4Panels pack_int4_panels(const Int4Weights& w) {
  Int4Panels p;
  p.k = w.k;
  p.n = w.n;
  p.block_size = w.block_size;
  p.k_blocks = w.k_blocks;
  p.panels = (w.n + kInt4PanelWidth - 1) / kInt4PanelWidth;
  p.codes.assign(static_cast<size_t>(p.panels * p.k * 16), 0);
  p.scales.assign(static_cast<size_t>(p.panels * p.k_blocks * kInt4PanelWidth), 0.f);
  p.zero_points.assign(p.scales.size(), 0);
  const int64_t column_bytes = w.k_blocks * (w.block_size / 2);
  for (int64_t col = 0; col < w.n; ++col) {
    const int64_t panel = col / kInt4PanelWidth, c = col % kInt4PanelWidth;
    // Element k of a column is the low nibble of byte k / 2 when k is even, the high one when odd.
    const uint8_t* column = w.b.data() + col * column_bytes;
    uint8_t* codes = p.codes.data() + panel * p.k * 16 + c % 16;
    const int shift = c < 16 ? 0 : 4;
    for (int64_t k = 0; k < w.k; ++k) {
      const int code = (column[k / 2] >> (k % 2 == 0 ? 0 : 4)) & 15;
      codes[k * 16] = static_cast<uint8_t>(codes[k * 16] | (code << shift));
    }
    for (int64_t j = 0; j < w.k_blocks; ++j) {
      const size_t at = static_cast<size_t>((panel * w.k_blocks + j) * kInt4PanelWidth + c);
      p.scales[at] = w.scales[col * w.k_blocks + j];
      p.zero_points[at] = w.zero_points[col * w.k_blocks + j];
    }
  }
  return p;
}

size_t int4_gemm_scratch_bytes(int threads) {
  return static_cast<size_t>(std::max(threads, 1) * kInt4ChunkRows * kInt4PanelWidth) *
         sizeof(float);
}

void gemm_int4(const Int4Panels& w, const float* a, int64_t rows, const float* bias, float* y,
               void* scratch, int threads, Int4Isa isa) {
  const auto dequantize =
      isa == Int4Isa::kAvx512 ? avx512::dequantize_chunk : avx2::dequantize_chunk;
  const auto multiply = isa == Int4Isa::kAvx512 ? avx512::multiply_chunk : avx2::multiply_chunk;
  constexpr int64_t kW = kInt4PanelWidth;
  // Rows in blocks of about kBlockBytes of A, so that a block's A stays in L2 while every panel
  // passes over it (each block dequantizes the panels again), in whole register tiles (24: 3 of
  // AVX-512's 8 rows, 4 of AVX2's 6).
  constexpr int64_t kBlockBytes = int64_t{1} << 20, kRowsStep = 24;
  const int64_t block_rows =
      std::max<int64_t>(1, kBlockBytes / (w.k * int64_t{sizeof(float)}) / kRowsStep) * kRowsStep;
  for (int64_t b0 = 0; b0 < rows; b0 += block_rows) {
    const int64_t count = std::min(block_rows, rows - b0);
    const float* a_block = a + b0 * w.k;
    float* y_block = y + b0 * w.n;
    parallel_units(w.panels, std::max(threads, 1), [&](int64_t p, int thread) {
      float* chunk = static_cast<float*>(scratch) + thread * kInt4ChunkRows * kW;
      const int64_t n0 = p * kW, cols = std::min(kW, w.n - n0);
      float init[kW] = {};
      if (bias) std::memcpy(init, bias + n0, static_cast<size_t>(cols) * sizeof(float));
      for (int64_t k0 = 0; k0 < w.k; k0 += kInt4ChunkRows) {
        const int64_t k1 = std::min(w.k, k0 + kInt4ChunkRows);
        const bool first = k0 == 0;
        dequantize(w, p, k0, k1, chunk);
        if (cols == kW) {
          multiply(a_block + k0, w.k, count, k1 - k0, chunk, y_block + n0, w.n, first,
                   bias ? init : nullptr);
          continue;
        }
        // The last panel's columns past N: through a tile of 8 full rows.
        for (int64_t r0 = 0; r0 < count; r0 += 8) {
          const int64_t tile_rows = std::min<int64_t>(8, count - r0);
          alignas(64) float tile[8][kW] = {};
          float* out = y_block + r0 * w.n + n0;
          for (int64_t r = 0; r < tile_rows && !first; ++r) {
            std::memcpy(tile[r], out + r * w.n, static_cast<size_t>(cols) * sizeof(float));
          }
          multiply(a_block + r0 * w.k + k0, w.k, tile_rows, k1 - k0, chunk, tile[0], kW, first,
                   bias ? init : nullptr);
          for (int64_t r = 0; r < tile_rows; ++r) {
            std::memcpy(out + r * w.n, tile[r], static_cast<size_t>(cols) * sizeof(float));
          }
        }
      }
    });
  }
}

}  // namespace quench::x86

// The exact integer GEMM core of quench's own int8 kernels for x86 CPUs without VNNI
// (int8_conv.h, int8_matmul.h). Operands are centered (value minus zero point, |v| <= 255,
// docs/quantization.md eq. (33)) int16 values taken in pairs along k: AVX2's vpmaddwd multiplies
// two pairs and adds the two products into an int32 exactly, and the int32 accumulators wrap,
// so every result is eq. (34)'s sum narrowed to int32 (eq. (62)).
//
// One int32 holds a pair: the value of the even k in its low half, of the odd k in its high half.
// A tile is kTileRows rows of A (each pair broadcast) by one 16-column panel of B (two vectors
// of 8 pairs). Packed layouts (K odd: the last pair's high half is 0):
//   A, rows:    src = [M][K] int16   dst = [M][pairs] int32 (a convolution instead reads each
//               output position's row in its padded input through a pointer: int8_conv.h)
//   B, panels:  src = [K][N] int16   dst = [N/16][pairs][16] int32 (panel-pair-col; the last
//               panel's extra columns 0), each panel read front to back by the tile
// This header is plain C++; the functions that run the products are compiled for AVX2
// (*_avx2.cc) and may only be called where x86::cpu_features().avx2.
#pragma once

#include <cstddef>
#include <cstdint>

namespace quench::x86 {

// The register tile: kTileRows rows of A by kTileCols columns of B (two ymm of 8 int32 per row).
inline constexpr int kTileRows = 6;
inline constexpr int kTileCols = 16;

inline constexpr int64_t pair_count(int64_t k) { return (k + 1) / 2; }
inline constexpr int64_t ceil_div(int64_t n, int64_t d) { return (n + d - 1) / d; }
inline constexpr int64_t round_up(int64_t n, int64_t multiple) {
  return ceil_div(n, multiple) * multiple;
}

// Row r's pair p at data[r * row_stride + p].
struct PackedA {
  const int32_t* data = nullptr;
  int64_t row_stride = 0;
};

// Column j's pair p at data[(j / 16) * panel_stride + p * 16 + j % 16].
struct PackedB {
  const int32_t* data = nullptr;
  int64_t panel_stride = 0;
};

// Packed sizes in int32 elements.
inline int64_t packed_a_size(int64_t m, int64_t k) { return m * pair_count(k); }
inline int64_t packed_b_size(int64_t k, int64_t n) {
  return pair_count(k) * round_up(n, kTileCols);
}

// Packs a row-major [M][K] A, and a B given transposed, [N][K] (the centered layout of
// CenteredOperand), into the layouts above. Build-time code: plain loops.
void pack_a(const int16_t* a, int64_t m, int64_t k, int32_t* out);
void pack_b_transposed(const int16_t* b_transposed, int64_t n, int64_t k, int32_t* out);
PackedA packed_a_view(const int32_t* packed, int64_t k);
PackedB packed_b_view(const int32_t* packed, int64_t k);

// Compiled for AVX2 (the *_avx2.cc files); call only where cpu_features().avx2.
namespace avx2 {

// The core alone (AVX2): c[r * ldc + j] = Σ_p A(r, p) · B(p, j) over `pairs` pairs, for an
// [m][n] int32 result. For tests and benchmarks; the kernels run the tiles with their epilogues.
void gemm_s16(int64_t m, int64_t n, int64_t pairs, PackedA a, PackedB b, int32_t* c, int64_t ldc);

}  // namespace avx2

}  // namespace quench::x86

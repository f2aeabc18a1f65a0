#include "kernels/x86/nbits_int8.h"

#include <algorithm>

#include "kernels/ref/nbits_matmul.h"
#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace {

constexpr int64_t kTileRows = 4;
constexpr int64_t kGroupBlocks = 16;  // int32 lanes of a 512-bit product

// The parts of the scratch for `rows` rows (64-byte aligned from `scratch`).
struct Layout {
  int8_t* codes;
  float* block_scales;
  int32_t* code_sums;
  int8_t* row_codes;  // one row's codes in element order (ref::quantize_nbits_row)
  int64_t row_codes_size, row_blocks;
};

Layout layout(const Int4GroupedWeights& w, int64_t rows, void* scratch) {
  Layout l{};
  l.row_codes_size = w.groups * w.steps_per_group() * 128;
  l.row_blocks = w.groups * kGroupBlocks;
  l.codes = static_cast<int8_t*>(scratch);
  l.block_scales = reinterpret_cast<float*>(l.codes + rows * l.row_codes_size);
  l.code_sums = reinterpret_cast<int32_t*>(l.block_scales + rows * l.row_blocks);
  l.row_codes = reinterpret_cast<int8_t*>(l.code_sums + rows * l.row_blocks);
  return l;
}

// Row r of the tile from A's row `x` (eq. (161); the layout of Int4Int8Rows).
void quantize_row(const Int4GroupedWeights& w, const float* x, int64_t r, const Layout& l) {
  ref::NBitsShape shape;
  shape.k = w.k;
  shape.n = w.n;
  shape.block_size = w.block_size;
  float* scales = l.block_scales + r * l.row_blocks;
  int32_t* sums = l.code_sums + r * l.row_blocks;
  std::fill(scales, scales + l.row_blocks, 0.f);
  ref::quantize_nbits_row(x, shape, l.row_codes, scales);
  const int64_t steps = w.steps_per_group();
  int8_t* codes = l.codes + r * l.row_codes_size;
  for (int64_t j = 0; j < l.row_blocks; ++j) {
    const int8_t* block = l.row_codes + j * w.block_size;
    const bool real = j < w.k_blocks;
    sums[j] = 0;
    for (int64_t i = 0; real && i < w.block_size; ++i) sums[j] += block[i];
    const int64_t g = j / kGroupBlocks, lane = j % kGroupBlocks;
    for (int64_t t = 0; t < steps; ++t) {
      int8_t* step = codes + (g * steps + t) * 128 + 4 * lane;
      for (int64_t u = 0; u < 4; ++u) {
        step[u] = real ? block[8 * t + 2 * u] : int8_t{0};
        step[64 + u] = real ? block[8 * t + 2 * u + 1] : int8_t{0};
      }
    }
  }
}

}  // namespace

Int8DotIsa int8_dot_isa() {
  return cpu_features().avx512_vnni ? Int8DotIsa::kAvx512Vnni : Int8DotIsa::kAvx2;
}

const char* int8_dot_isa_name(Int8DotIsa isa) {
  return isa == Int8DotIsa::kAvx512Vnni ? "avx512vnni" : "avx2";
}

Int4GroupedWeights group_int4_weights(const Int4Weights& w) {
  Int4GroupedWeights g;
  g.k = w.k;
  g.n = w.n;
  g.block_size = w.block_size;
  g.k_blocks = w.k_blocks;
  g.groups = (w.k_blocks + kGroupBlocks - 1) / kGroupBlocks;
  const int64_t blocks = g.groups * kGroupBlocks, steps = g.steps_per_group();
  const int64_t block_bytes = w.block_size / 2;
  g.b.assign(static_cast<size_t>(w.n * g.column_bytes()), 0);
  g.scales.assign(static_cast<size_t>(w.n * blocks), 0.f);
  g.zero_points.assign(static_cast<size_t>(w.n * blocks), 0);
  for (int64_t n = 0; n < w.n; ++n) {
    for (int64_t j = 0; j < w.k_blocks; ++j) {
      const uint8_t* src = w.b.data() + (n * w.k_blocks + j) * block_bytes;
      const int64_t group = j / kGroupBlocks, lane = j % kGroupBlocks;
      uint8_t* dst = g.b.data() + n * g.column_bytes() + group * steps * 64 + 4 * lane;
      for (int64_t t = 0; t < steps; ++t) std::copy(src + 4 * t, src + 4 * t + 4, dst + t * 64);
      g.scales[n * blocks + j] = w.scales[n * w.k_blocks + j];
      g.zero_points[n * blocks + j] = w.zero_points[n * w.k_blocks + j];
    }
  }
  return g;
}

size_t int4_int8_scratch_bytes(const Int4GroupedWeights& w, int64_t rows) {
  const int64_t tile = std::min(rows, kTileRows), blocks = w.groups * kGroupBlocks;
  return static_cast<size_t>(tile * w.groups * w.steps_per_group() * 128) +
         static_cast<size_t>(tile * blocks) * (sizeof(float) + sizeof(int32_t)) +
         static_cast<size_t>(blocks * w.block_size);
}

void gemv_int4_int8(const Int4GroupedWeights& w, const float* a, int64_t rows, const float* bias,
                    float* y, int64_t n0, int64_t n1, void* scratch, Int8DotIsa isa) {
  const Layout l = layout(w, std::min(rows, kTileRows), scratch);
  for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
    const int64_t tile = std::min(kTileRows, rows - r0);
    for (int64_t r = 0; r < tile; ++r) quantize_row(w, a + (r0 + r) * w.k, r, l);
    const Int4Int8Rows rows_of_a{l.codes, l.block_scales, l.code_sums, l.row_codes_size,
                                 l.row_blocks};
    (isa == Int8DotIsa::kAvx512Vnni ? avx512vnni::int4_int8_columns : avx2::int4_int8_columns)(
        w, rows_of_a, tile, bias, y + r0 * w.n, w.n, n0, n1);
  }
}

}  // namespace quench::x86

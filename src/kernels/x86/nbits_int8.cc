#include "kernels/x86/nbits_int8.h"

#include <algorithm>
#include <cstring>

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace {

constexpr int64_t kTileRows = 4;
constexpr int64_t kLanes = 16;  // int32 lanes of a 512-bit product

// The parts of the scratch for `rows` rows (64-byte aligned from `scratch`).
struct Layout {
  int8_t* codes;
  float* block_scales;
  int32_t* code_sums;
  int8_t* row_codes;  // one row's codes in element order (avx2::quantize_int8_blocks)
  float* row_scales;  // and its block scales
  int64_t row_codes_size, row_blocks;
};

Layout layout(const Int4GroupedWeights& w, int64_t rows, void* scratch) {
  Layout l{};
  l.row_codes_size = w.groups * w.steps_per_group() * 128;
  l.row_blocks = w.groups * kLanes;
  l.codes = static_cast<int8_t*>(scratch);
  l.block_scales = reinterpret_cast<float*>(l.codes + rows * l.row_codes_size);
  l.code_sums = reinterpret_cast<int32_t*>(l.block_scales + rows * l.row_blocks);
  l.row_scales = reinterpret_cast<float*>(l.code_sums + rows * l.row_blocks);
  l.row_codes = reinterpret_cast<int8_t*>(l.row_scales + w.k_blocks);
  return l;
}

// Row r of the tile from A's row `x` (eq. (161); the layout of Int4Int8Rows).
void quantize_row(const Int4GroupedWeights& w, const float* x, int64_t r, const Layout& l) {
  avx2::quantize_int8_blocks(x, w.k, w.block_size, w.k_blocks, l.row_codes, l.row_scales);
  const int64_t steps = w.steps_per_group(), slots = w.columns_per_pack();
  int8_t* codes = l.codes + r * l.row_codes_size;
  float* scales = l.block_scales + r * l.row_blocks;
  int32_t* sums = l.code_sums + r * l.row_blocks;
  std::fill(codes, codes + l.row_codes_size, int8_t{0});
  std::fill(scales, scales + l.row_blocks, 0.f);
  std::fill(sums, sums + l.row_blocks, 0);
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    const int8_t* block = l.row_codes + j * w.block_size;
    int32_t sum = 0;
    for (int64_t i = 0; i < w.block_size; ++i) sum += block[i];
    const int64_t g = j / w.width;
    for (int64_t slot = 0; slot < slots; ++slot) {
      const int64_t lane = slot * w.width + j % w.width;
      sums[g * kLanes + lane] = sum;
      scales[g * kLanes + lane] = l.row_scales[j];
    }
    for (int64_t t = 0; t < steps; ++t) {
      // Elements 8t .. 8t + 7: the even ones under the low nibbles, the odd under the high.
      const int8_t* e = block + 8 * t;
      const int8_t even[4] = {e[0], e[2], e[4], e[6]}, odd[4] = {e[1], e[3], e[5], e[7]};
      int8_t* step = codes + (g * steps + t) * 128 + 4 * (j % w.width);
      for (int64_t slot = 0; slot < slots; ++slot) {
        std::memcpy(step + 4 * slot * w.width, even, 4);
        std::memcpy(step + 64 + 4 * slot * w.width, odd, 4);
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
  g.width = 1;
  while (g.width < std::min<int64_t>(w.k_blocks, kLanes)) g.width *= 2;
  g.groups = (w.k_blocks + g.width - 1) / g.width;
  const int64_t per = g.columns_per_pack(), steps = g.steps_per_group();
  g.packs = (w.n + per - 1) / per;
  g.b.assign(static_cast<size_t>(g.packs * g.pack_bytes()), 0);
  g.scales.assign(static_cast<size_t>(g.packs * g.groups * kLanes), 0.f);
  g.zero_points.assign(g.scales.size(), 0);
  const int64_t block_bytes = w.block_size / 2;
  for (int64_t n = 0; n < w.n; ++n) {
    const int64_t pack = n / per, slot = n % per;
    for (int64_t j = 0; j < w.k_blocks; ++j) {
      const int64_t group = j / g.width, lane = slot * g.width + j % g.width;
      const uint8_t* src = w.b.data() + (n * w.k_blocks + j) * block_bytes;
      uint8_t* dst = g.b.data() + pack * g.pack_bytes() + group * steps * 64 + 4 * lane;
      for (int64_t t = 0; t < steps; ++t) std::copy(src + 4 * t, src + 4 * t + 4, dst + t * 64);
      const size_t at = static_cast<size_t>((pack * g.groups + group) * kLanes + lane);
      g.scales[at] = w.scales[n * w.k_blocks + j];
      g.zero_points[at] = w.zero_points[n * w.k_blocks + j];
    }
  }
  return g;
}

size_t int4_int8_scratch_bytes(const Int4GroupedWeights& w, int64_t rows) {
  const int64_t tile = std::min(rows, kTileRows), lanes = w.groups * kLanes;
  return static_cast<size_t>(tile * w.groups * w.steps_per_group() * 128) +
         static_cast<size_t>(tile * lanes) * (sizeof(float) + sizeof(int32_t)) +
         static_cast<size_t>(w.k_blocks) * sizeof(float) +
         static_cast<size_t>(w.k_blocks * w.block_size);
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

#include "kernels/x86/nbits_int8.h"

#include <algorithm>

#include "kernels/ref/nbits_matmul.h"
#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace {

constexpr int64_t kTileRows = 4;
constexpr int64_t kStep = 128;  // elements of A per step: 64 weight bytes

int64_t padded_k(const Int4Weights& w) { return w.k_blocks * w.block_size; }
int64_t steps(const Int4Weights& w) { return (padded_k(w) + kStep - 1) / kStep; }

// The parts of the scratch for `rows` rows (64-byte aligned from `scratch`).
struct Layout {
  int8_t* codes;
  float *lane_scales, *block_scales, *block_sums;
  int8_t* row_codes;  // one row's codes in element order (ref::quantize_nbits_row)
};

Layout layout(const Int4Weights& w, int64_t rows, void* scratch) {
  const int64_t s = steps(w);
  Layout l{};
  l.codes = static_cast<int8_t*>(scratch);
  l.lane_scales = reinterpret_cast<float*>(l.codes + rows * s * kStep);
  l.block_scales = l.lane_scales + rows * s * 16;
  l.block_sums = l.block_scales + rows * w.k_blocks;
  l.row_codes = reinterpret_cast<int8_t*>(l.block_sums + rows * w.k_blocks);
  return l;
}

// Row r of the tile from A's row `x` (eq. (161); the layout of Int4Int8Rows).
void quantize_row(const Int4Weights& w, const float* x, int64_t r, const Layout& l) {
  ref::NBitsShape shape;
  shape.k = w.k;
  shape.n = w.n;
  shape.block_size = w.block_size;
  float* block_scales = l.block_scales + r * w.k_blocks;
  ref::quantize_nbits_row(x, shape, l.row_codes, block_scales);
  const int64_t padded = padded_k(w), s = steps(w);
  int8_t* codes = l.codes + r * s * kStep;
  float* lanes = l.lane_scales + r * s * 16;
  for (int64_t step = 0; step < s; ++step) {
    for (int64_t chunk = 0; chunk < 4; ++chunk) {
      const int64_t first = step * kStep + 32 * chunk;
      for (int64_t t = 0; t < 16; ++t) {
        const int64_t e = first + 2 * t;
        codes[step * kStep + 16 * chunk + t] = e < padded ? l.row_codes[e] : int8_t{0};
        codes[step * kStep + 64 + 16 * chunk + t] = e < padded ? l.row_codes[e + 1] : int8_t{0};
      }
      const float scale = first < padded ? block_scales[first / w.block_size] : 0.f;
      std::fill(lanes + step * 16 + 4 * chunk, lanes + step * 16 + 4 * chunk + 4, scale);
    }
  }
  for (int64_t j = 0; j < w.k_blocks; ++j) {
    int32_t sum = 0;
    for (int64_t i = 0; i < w.block_size; ++i) sum += l.row_codes[j * w.block_size + i];
    l.block_sums[r * w.k_blocks + j] = block_scales[j] * static_cast<float>(sum);
  }
}

}  // namespace

Int8DotIsa int8_dot_isa() {
  return cpu_features().avx512_vnni ? Int8DotIsa::kAvx512Vnni : Int8DotIsa::kAvx2;
}

const char* int8_dot_isa_name(Int8DotIsa isa) {
  return isa == Int8DotIsa::kAvx512Vnni ? "avx512vnni" : "avx2";
}

size_t int4_int8_scratch_bytes(const Int4Weights& w, int64_t rows) {
  const int64_t tile = std::min(rows, kTileRows), s = steps(w);
  return static_cast<size_t>(tile * s * kStep) +
         static_cast<size_t>(tile * (s * 16 + 2 * w.k_blocks)) * sizeof(float) +
         static_cast<size_t>(padded_k(w));
}

void gemv_int4_int8(const Int4Weights& w, const float* a, int64_t rows, const float* bias, float* y,
                    int64_t n0, int64_t n1, void* scratch, Int8DotIsa isa) {
  const int64_t tile_rows = std::min(rows, kTileRows);
  const Layout l = layout(w, tile_rows, scratch);
  for (int64_t r0 = 0; r0 < rows; r0 += kTileRows) {
    const int64_t tile = std::min(kTileRows, rows - r0);
    for (int64_t r = 0; r < tile; ++r) quantize_row(w, a + (r0 + r) * w.k, r, l);
    const Int4Int8Rows rows_of_a{l.codes, l.lane_scales, l.block_scales, l.block_sums, steps(w)};
    (isa == Int8DotIsa::kAvx512Vnni ? avx512vnni::int4_int8_columns : avx2::int4_int8_columns)(
        w, rows_of_a, tile, bias, y + r0 * w.n, w.n, n0, n1);
  }
}

}  // namespace quench::x86

// The run of an x86 int8 matrix product (int8_matmul.h). Compiled with -mavx2 -mfma; called only
// where x86::cpu_features().avx2.
#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_matmul.h"
#include "kernels/x86/int8_tile_avx2.h"
#include "kernels/x86/parallel_units.h"

namespace quench::x86::avx2 {
namespace {

// Rows of A per unit of work: a slice that stays in L1/L2 while B's panels pass by.
constexpr int64_t kRowsPerUnit = 8 * kTileRows;

QUENCH_AVX2_INLINE __m128i load16(const uint8_t* p, int64_t available) {
  if (available >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  alignas(16) uint8_t bytes[16] = {};
  std::memcpy(bytes, p, static_cast<size_t>(std::max<int64_t>(available, 0)));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(bytes));
}

template <bool Signed>
QUENCH_AVX2_INLINE __m256i centered16(__m128i bytes, __m256i zero_point) {
  const __m256i wide = Signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
  return _mm256_sub_epi16(wide, zero_point);
}

template <bool Signed>
int16_t centered(const uint8_t* p, int32_t zero_point) {
  const int32_t q = Signed ? static_cast<int32_t>(static_cast<int8_t>(*p)) : int32_t{*p};
  return static_cast<int16_t>(q - zero_point);  // |q − z| <= 255
}

// A [matrices][M][K] (or [K][M] each) minus its zero point, as rows of pairs ([rows][2 · pairs]
// int16, an odd K padded with 0).
template <bool Signed>
void center_a(const MatMulPlan& p, const uint8_t* a, int32_t zero_point, int16_t* out) {
  const int64_t rows = p.a_matrices * p.m, width = 2 * p.pairs;
  const uint8_t* end = a + rows * p.k;
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  parallel_units(ceil_div(rows, kRowsPerUnit), p.threads, [&](int64_t unit, int) {
    const int64_t last = std::min(rows, (unit + 1) * kRowsPerUnit);
    for (int64_t row = unit * kRowsPerUnit; row < last; ++row) {
      int16_t* dst = out + row * width;
      if (p.a_transposed) {
        const int64_t matrix = row / p.m, r = row % p.m;
        const uint8_t* src = a + matrix * p.m * p.k + r;
        for (int64_t i = 0; i < p.k; ++i) dst[i] = centered<Signed>(src + i * p.m, zero_point);
      } else {
        const uint8_t* src = a + row * p.k;
        int64_t i = 0;
        // Whole vectors while they stay within the row (the next row is another thread's).
        for (; i + 16 <= p.k; i += 16) {
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i),
                              centered16<Signed>(load16(src + i, end - (src + i)), z));
        }
        for (; i < p.k; ++i) dst[i] = centered<Signed>(src + i, zero_point);
      }
      if (p.k < width) dst[p.k] = 0;
    }
  });
}

// B (u8/s8, [K][N] or [N][K] per matrix) minus its zero point into 16-wide panels of pairs.
template <bool Signed>
void pack_b(const MatMulPlan& p, const uint8_t* b, int32_t zero_point, int32_t* out) {
  const int64_t panels = ceil_div(p.n, kTileCols);
  const int64_t matrix_size = p.k * p.n;
  const uint8_t* end = b + p.b_matrices * matrix_size;
  const __m256i z = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  parallel_units(p.b_matrices * p.pairs, p.threads, [&](int64_t unit, int) {
    const int64_t matrix = unit / p.pairs, pair = unit % p.pairs;
    const uint8_t* src = b + matrix * matrix_size;
    int32_t* dst = out + matrix * panels * p.pairs * kTileCols + pair * kTileCols;
    const int64_t even = 2 * pair;
    const bool has_odd = even + 1 < p.k;
    if (p.b_transposed) {
      for (int64_t col = 0; col < panels * kTileCols; ++col) {
        int32_t value = 0;
        if (col < p.n) {
          const int16_t low = centered<Signed>(src + col * p.k + even, zero_point);
          const int16_t high =
              has_odd ? centered<Signed>(src + col * p.k + even + 1, zero_point) : int16_t{0};
          value = static_cast<int32_t>((static_cast<uint32_t>(static_cast<uint16_t>(high)) << 16) |
                                       static_cast<uint16_t>(low));
        }
        dst[col / kTileCols * p.pairs * kTileCols + col % kTileCols] = value;
      }
      return;
    }
    const uint8_t* row0 = src + even * p.n;
    const uint8_t* row1 = row0 + p.n;
    for (int64_t panel = 0; panel < panels; ++panel) {
      const int64_t col = panel * kTileCols;
      // Columns past N (the last panel) take whatever follows; their sums are never stored.
      const __m256i lo = centered16<Signed>(load16(row0 + col, end - (row0 + col)), z);
      const __m256i hi = has_odd ? centered16<Signed>(load16(row1 + col, end - (row1 + col)), z)
                                 : _mm256_setzero_si256();
      const __m256i first = _mm256_unpacklo_epi16(lo, hi), second = _mm256_unpackhi_epi16(lo, hi);
      int32_t* panel_dst = dst + panel * p.pairs * kTileCols;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(panel_dst),
                          _mm256_permute2x128_si256(first, second, 0x20));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(panel_dst + 8),
                          _mm256_permute2x128_si256(first, second, 0x31));
    }
  });
}

template <OutKind Out, SumKind Sum, bool Finite>
void products(const MatMulPlan& p, const int32_t* a, const int32_t* b, const Epilogue& e, void* y) {
  const RequantConstants k = requant_constants<Out>(e);
  constexpr int64_t kBytes = out_bytes(Out);
  const int64_t panels = ceil_div(p.n, kTileCols);
  const int64_t b_matrix_size = panels * p.pairs * kTileCols;
  const int64_t matrices = p.fold_rows ? 1 : static_cast<int64_t>(p.a_matrix.size());
  const int64_t rows = p.fold_rows ? static_cast<int64_t>(p.a_matrix.size()) * p.m : p.m;
  const int64_t row_units = ceil_div(rows, kRowsPerUnit);
  // Few rows (a small batch): threads share B's panels instead.
  const int64_t col_units =
      std::clamp<int64_t>(ceil_div(p.threads, matrices * row_units), 1, panels);
  const int64_t panels_per_unit = ceil_div(panels, col_units);
  parallel_units(matrices * row_units * col_units, p.threads, [&](int64_t unit, int) {
    alignas(32) int32_t sums[kTileRows * kTileCols];
    const int64_t matrix = unit / (row_units * col_units);
    const int64_t row_begin = unit / col_units % row_units * kRowsPerUnit;
    const int64_t row_end = std::min(rows, row_begin + kRowsPerUnit);
    const int64_t panel_begin = unit % col_units * panels_per_unit;
    const int64_t panel_end = std::min(panels, panel_begin + panels_per_unit);
    const int64_t a_matrix = p.fold_rows ? 0 : p.a_matrix[matrix];
    const int64_t b_matrix = p.fold_rows ? 0 : p.b_matrix[matrix];
    const int32_t* a_rows = a + a_matrix * p.m * p.pairs;
    for (int64_t panel = panel_begin; panel < panel_end; ++panel) {
      const int32_t* b_panel = b + b_matrix * b_matrix_size + panel * p.pairs * kTileCols;
      const int64_t col = panel * kTileCols;
      const int count = static_cast<int>(std::min<int64_t>(kTileCols, p.n - col));
      // Parameters per column (or per tensor) are the panel's; only QGemm's C may vary by row.
      const bool by_row = e.multiplier_row_stride != 0 || e.bias_row_stride != 0;
      const RowParams panel_params = row_params(e, 0, col, count);
      for (int64_t row = row_begin; row < row_end; row += kTileRows) {
        const int tile_rows_count = static_cast<int>(std::min<int64_t>(kTileRows, row_end - row));
        matrix_tile(tile_rows_count, a_rows + row * p.pairs, p.pairs, p.pairs, b_panel, sums);
        for (int r = 0; r < tile_rows_count; ++r) {
          const int64_t offset = (matrix * p.m + row + r) * p.n + col;
          const __m256i acc0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + r * 16));
          const __m256i acc1 =
              _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + r * 16 + 8));
          const void* sum =
              Sum == SumKind::kNone ? nullptr : static_cast<const uint8_t*>(e.sum) + offset;
          finish_row<Out, Sum, Finite>(
              k, by_row ? row_params(e, row + r, col, count) : panel_params, acc0, acc1, sum,
              static_cast<uint8_t*>(y) + offset * kBytes, count);
        }
      }
    }
  });
}

}  // namespace

size_t matmul_scratch_bytes(const MatMulPlan& plan) { return plan.a_bytes + plan.b_bytes; }

void matmul(const MatMulPlan& plan, const void* a, int32_t a_zero_point, const void* b,
            int32_t b_zero_point, const Epilogue& e, void* y, void* scratch) {
  auto* centered_a = static_cast<int16_t*>(scratch);
  if (plan.a_signed) {
    center_a<true>(plan, static_cast<const uint8_t*>(a), a_zero_point, centered_a);
  } else {
    center_a<false>(plan, static_cast<const uint8_t*>(a), a_zero_point, centered_a);
  }
  const int32_t* packed_b = plan.packed_b.data();
  if (plan.packed_b.empty()) {
    auto* out = reinterpret_cast<int32_t*>(static_cast<char*>(scratch) + plan.a_bytes);
    if (plan.b_signed) {
      pack_b<true>(plan, static_cast<const uint8_t*>(b), b_zero_point, out);
    } else {
      pack_b<false>(plan, static_cast<const uint8_t*>(b), b_zero_point, out);
    }
    packed_b = out;
  }
  const auto* a_pairs = reinterpret_cast<const int32_t*>(centered_a);
  visit_epilogue(e, [&]<OutKind Out, SumKind Sum, bool Finite>() {
    products<Out, Sum, Finite>(plan, a_pairs, packed_b, e, y);
  });
}

}  // namespace quench::x86::avx2

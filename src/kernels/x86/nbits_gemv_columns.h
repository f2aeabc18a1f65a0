// The column driver of the int4 GEMV loops (nbits_gemv.h), shared by nbits_gemv_avx2.cc and
// nbits_gemv_avx512.cc: each defines a `Loop` with `template <int R, int C> static void
// group(w, perm, block_sums, row_stride, n, float out[R][C])` (C columns n.. for R rows, eq.
// (144)) and instantiates int4_columns_with<Loop> under its own instruction-set flags.
#pragma once

#include "kernels/x86/nbits_gemv.h"

namespace quench::x86 {

// Columns [n0, n1) in groups of C, the rest one at a time; y[r, n] = out + bias[n].
template <class Loop, int R, int C>
void int4_column_groups(const Int4Weights& w, const float* perm, const float* block_sums,
                        const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1) {
  const int64_t row_stride = w.k_blocks * w.block_size;
  auto store = [&](const auto& out, int64_t first, int count) {
    for (int r = 0; r < R; ++r) {
      for (int c = 0; c < count; ++c) {
        y[r * y_stride + first + c] = out[r][c] + (bias ? bias[first + c] : 0.f);
      }
    }
  };
  int64_t n = n0;
  for (; n + C <= n1; n += C) {
    float out[R][C];
    Loop::template group<R, C>(w, perm, block_sums, row_stride, n, out);
    store(out, n, C);
  }
  for (; n < n1; ++n) {
    float out[R][1];
    Loop::template group<R, 1>(w, perm, block_sums, row_stride, n, out);
    store(out, n, 1);
  }
}

// Up to 4 rows: 4 columns per pass over A at batch 1, 2 at batch 2, 1 beyond (the accumulators
// of rows × columns must stay in registers).
template <class Loop>
void int4_columns_with(const Int4Weights& w, const float* perm, const float* block_sums,
                       int64_t rows, const float* bias, float* y, int64_t y_stride, int64_t n0,
                       int64_t n1) {
  switch (rows) {
    case 1:
      return int4_column_groups<Loop, 1, 4>(w, perm, block_sums, bias, y, y_stride, n0, n1);
    case 2:
      return int4_column_groups<Loop, 2, 2>(w, perm, block_sums, bias, y, y_stride, n0, n1);
    case 3:
      return int4_column_groups<Loop, 3, 1>(w, perm, block_sums, bias, y, y_stride, n0, n1);
    default:
      return int4_column_groups<Loop, 4, 1>(w, perm, block_sums, bias, y, y_stride, n0, n1);
  }
}

}  // namespace quench::x86

// softmax_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file with that ISA's
// flags; everything here lives in that namespace (the vector type and exp: vector_exp_impl.h).
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including softmax_impl.h"
#endif

#include <immintrin.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/x86/vector_exp_impl.h"

namespace quench::x86::QUENCH_X86_ISA {
namespace {

// v with lanes i and i ^ d swapped, for d = kLanes / 2, kLanes / 4, ..., 1 in turn.
template <int Step>
inline Vec swap_lanes(Vec v) {
#if defined(__AVX512F__)
  if constexpr (Step == 0)
    return __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
  if constexpr (Step == 1)
    return __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
  if constexpr (Step == 2)
    return __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
  if constexpr (Step == 3)
    return __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
#elif defined(__AVX2__)
  if constexpr (Step == 0) return __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3);
  if constexpr (Step == 1) return __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5);
  if constexpr (Step == 2) return __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6);
#else
  if constexpr (Step == 0) return __builtin_shufflevector(v, v, 2, 3, 0, 1);
  if constexpr (Step == 1) return __builtin_shufflevector(v, v, 1, 0, 3, 2);
#endif
  return v;
}
constexpr int kSwapSteps = kLanes == 16 ? 4 : kLanes == 8 ? 3 : 2;

// The largest lane and the sum of the lanes (a tree of lane swaps).
inline float reduce_max(Vec v) {
  v = vmax(v, swap_lanes<0>(v));
  v = vmax(v, swap_lanes<1>(v));
  if constexpr (kSwapSteps > 2) v = vmax(v, swap_lanes<2>(v));
  if constexpr (kSwapSteps > 3) v = vmax(v, swap_lanes<3>(v));
  return v[0];
}

inline float reduce_sum(Vec v) {
  v += swap_lanes<0>(v);
  v += swap_lanes<1>(v);
  if constexpr (kSwapSteps > 2) v += swap_lanes<2>(v);
  if constexpr (kSwapSteps > 3) v += swap_lanes<3>(v);
  return v[0];
}

constexpr float kInfinity = std::numeric_limits<float>::infinity();

// Rows of fewer than kLanes values: one vector, padded with −inf (exp gives 0 there).
void softmax_short_rows(const float* x, float* y, int64_t rows, int64_t n) {
#if defined(__AVX512F__)
  const __mmask16 in_row = static_cast<__mmask16>((1u << n) - 1);
#endif
  for (int64_t row = 0; row < rows; ++row, x += n, y += n) {
#if defined(__AVX512F__)
    const Vec v =
        reinterpret_cast<Vec>(_mm512_mask_loadu_ps(_mm512_set1_ps(-kInfinity), in_row, x));
#else
    float padded[kLanes];
    for (int64_t i = 0; i < kLanes; ++i) padded[i] = i < n ? x[i] : -kInfinity;
    const Vec v = load(padded);
#endif
    const Vec e = exp_approx(v - reduce_max(v));
    const Vec out = e * (1.f / reduce_sum(e));
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(y, in_row, reinterpret_cast<__m512>(out));
#else
    store(padded, out);
    for (int64_t i = 0; i < n; ++i) y[i] = padded[i];
#endif
  }
}

// Rows of kLanes values or more: whole vectors from the start and, when kLanes does not divide n,
// one more vector ending at the row's end (overlapping the last whole one; its overlap is left out
// of the sum). Every value of x is read before y is written over it.
void softmax_rows(const float* x, float* y, int64_t rows, int64_t n) {
  const int64_t whole = n / kLanes;
  const int64_t tail = n - whole * kLanes;
  IntVec lane;
  for (int i = 0; i < kLanes; ++i) lane[i] = i;
  const IntVec in_tail = lane >= static_cast<int32_t>(kLanes - tail);
  for (int64_t row = 0; row < rows; ++row, x += n, y += n) {
    Vec m = load(x);
    for (int64_t c = 1; c < whole; ++c) m = vmax(m, load(x + c * kLanes));
    if (tail != 0) m = vmax(m, load(x + n - kLanes));
    const Vec max = splat(reduce_max(m));
    Vec sum = {};
    Vec last = {};
    if (tail != 0) {
      last = exp_approx(load(x + n - kLanes) - max);
      sum = in_tail ? last : sum;
    }
    for (int64_t c = 0; c < whole; ++c) {
      const Vec e = exp_approx(load(x + c * kLanes) - max);
      store(y + c * kLanes, e);
      sum += e;
    }
    const float inv = 1.f / reduce_sum(sum);
    for (int64_t c = 0; c < whole; ++c) store(y + c * kLanes, load(y + c * kLanes) * inv);
    if (tail != 0) store(y + n - kLanes, last * inv);
  }
}

// Softmax along an axis of stride `inner` ≥ kLanes: kLanes columns at a time, the last ones
// overlapping the previous ones when kLanes does not divide inner (so y must not be x).
void softmax_columns(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner) {
  for (int64_t o = 0; o < outer; ++o) {
    const float* xo = x + o * axis * inner;
    float* yo = y + o * axis * inner;
    for (int64_t start = 0; start < inner; start += kLanes) {
      const int64_t col = start + kLanes <= inner ? start : inner - kLanes;
      Vec max = load(xo + col);
      for (int64_t a = 1; a < axis; ++a) max = vmax(max, load(xo + a * inner + col));
      Vec sum = {};
      for (int64_t a = 0; a < axis; ++a) {
        const Vec e = exp_approx(load(xo + a * inner + col) - max);
        store(yo + a * inner + col, e);
        sum += e;
      }
      const Vec inv = 1.f / sum;
      for (int64_t a = 0; a < axis; ++a) {
        store(yo + a * inner + col, load(yo + a * inner + col) * inv);
      }
    }
  }
}

}  // namespace

inline void softmax_impl(const float* x, float* y, int64_t outer, int64_t axis, int64_t inner) {
  if (inner > 1) return softmax_columns(x, y, outer, axis, inner);
  if (axis < kLanes) return softmax_short_rows(x, y, outer, axis);
  softmax_rows(x, y, outer, axis);
}

// For the tests: the exp loop alone.
inline void exp_impl(const float* x, float* y, int64_t count) {
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) store(y + i, exp_approx(load(x + i)));
  for (; i < count; ++i) y[i] = exp_approx(splat(x[i]))[0];
}

}  // namespace quench::x86::QUENCH_X86_ISA

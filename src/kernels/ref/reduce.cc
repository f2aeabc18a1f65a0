#include "kernels/ref/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace quench::ref {
namespace {

// Offsets of every index over the dims of `shape` whose bit in `dims` equals `bit`, in row-major
// order over those dims.
void fill_offsets(const Shape& shape, uint64_t dims, uint64_t bit, int64_t* out) {
  const int rank = static_cast<int>(shape.size());
  auto selected = [&](int d) { return ((dims >> d) & 1u) == bit; };
  int64_t count = 1;
  for (int d = 0; d < rank; ++d) {
    if (selected(d)) count *= shape[d];
  }
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, offset = 0, stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      if (selected(d)) {
        offset += rest % shape[d] * stride;
        rest /= shape[d];
      }
      stride *= shape[d];
    }
    out[i] = offset;
  }
}

// Calls y[out] = finish(acc) where acc = add(...add(init, x0)..., xn) over each output's inputs.
template <class T, class Acc, class Add, class Finish>
void fold(const ReduceLayout& l, const T* x, T* y, Acc init, Add add, Finish finish) {
  for (int64_t out = 0; out < l.out_count; ++out) {
    const T* xs = x + l.base[out];
    Acc acc = init;
    for (int64_t r = 0; r < l.inner_count; ++r) acc = add(acc, xs[l.inner[r]]);
    y[out] = static_cast<T>(finish(acc));
  }
}

template <class T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  return false;
}

template <class T>
T lowest() {
  if constexpr (std::numeric_limits<T>::has_infinity) return -std::numeric_limits<T>::infinity();
  return std::numeric_limits<T>::lowest();
}

template <class T>
T highest() {
  if constexpr (std::numeric_limits<T>::has_infinity) return std::numeric_limits<T>::infinity();
  return std::numeric_limits<T>::max();
}

// log(sum(exp(x))) computed as max + log(sum(exp(x - max))), so that large inputs do not
// overflow.
template <class T>
void log_sum_exp(const ReduceLayout& l, const T* x, T* y) {
  for (int64_t out = 0; out < l.out_count; ++out) {
    const T* xs = x + l.base[out];
    double max = -std::numeric_limits<double>::infinity();
    for (int64_t r = 0; r < l.inner_count; ++r) max = std::max(max, double(xs[l.inner[r]]));
    if (!std::isfinite(max)) {  // empty (-inf), or an infinite input dominates
      y[out] = static_cast<T>(max);
      continue;
    }
    double sum = 0;
    for (int64_t r = 0; r < l.inner_count; ++r) sum += std::exp(double(xs[l.inner[r]]) - max);
    y[out] = static_cast<T>(max + std::log(sum));
  }
}

}  // namespace

void reduction_offsets(const Shape& input, uint64_t reduced_dims, int64_t* base, int64_t* inner) {
  fill_offsets(input, reduced_dims, 0, base);
  fill_offsets(input, reduced_dims, 1, inner);
}

template <class T>
void reduce(ReduceOp op, const ReduceLayout& layout, const T* x, T* y) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const auto sum = [](Acc acc, T v) { return acc + Acc(v); };
  const auto abs_sum = [](Acc acc, T v) { return acc + (Acc(v) < 0 ? -Acc(v) : Acc(v)); };
  const auto square_sum = [](Acc acc, T v) { return acc + Acc(v) * Acc(v); };
  const auto same = [](auto acc) { return acc; };
  switch (op) {
    case ReduceOp::kSum:
      return fold(layout, x, y, Acc(0), sum, same);
    case ReduceOp::kMean: {
      const int64_t count = layout.inner_count;
      return fold(layout, x, y, Acc(0), sum, [count](Acc acc) {
        if constexpr (std::is_integral_v<Acc>) {
          return count > 0 ? acc / count : Acc(0);
        } else {
          return acc / static_cast<double>(count);
        }
      });
    }
    case ReduceOp::kMax:
      // A NaN, once taken, is kept: no comparison with it is true.
      return fold(
          layout, x, y, lowest<T>(), [](T best, T v) { return v > best || is_nan(v) ? v : best; },
          same);
    case ReduceOp::kMin:
      return fold(
          layout, x, y, highest<T>(), [](T best, T v) { return v < best || is_nan(v) ? v : best; },
          same);
    case ReduceOp::kProd:
      return fold(
          layout, x, y, Acc(1), [](Acc acc, T v) { return acc * Acc(v); }, same);
    case ReduceOp::kL1:
      return fold(layout, x, y, Acc(0), abs_sum, same);
    case ReduceOp::kL2:
      return fold(layout, x, y, Acc(0), square_sum, [](Acc acc) { return std::sqrt(double(acc)); });
    case ReduceOp::kSumSquare:
      return fold(layout, x, y, Acc(0), square_sum, same);
    case ReduceOp::kLogSum:
      return fold(layout, x, y, Acc(0), sum, [](Acc acc) { return std::log(double(acc)); });
    case ReduceOp::kLogSumExp:
      return log_sum_exp(layout, x, y);
  }
}

template <class T>
void arg_reduce(const ArgReduceParams& p, const T* x, int64_t* y) {
  for (int64_t outer = 0; outer < p.outer; ++outer) {
    for (int64_t inner = 0; inner < p.inner; ++inner) {
      const T* line = x + outer * p.axis * p.inner + inner;
      int64_t best = 0;
      for (int64_t i = 1; i < p.axis; ++i) {
        const T v = line[i * p.inner];
        const T b = line[best * p.inner];
        const bool better = p.max ? v > b : v < b;
        if (better || (p.select_last && v == b)) best = i;
      }
      y[outer * p.inner + inner] = best;
    }
  }
}

#define QUENCH_INSTANTIATE_REDUCE(T)                                    \
  template void reduce<T>(ReduceOp, const ReduceLayout&, const T*, T*); \
  template void arg_reduce<T>(const ArgReduceParams&, const T*, int64_t*);
QUENCH_INSTANTIATE_REDUCE(float)
QUENCH_INSTANTIATE_REDUCE(double)
QUENCH_INSTANTIATE_REDUCE(int32_t)
QUENCH_INSTANTIATE_REDUCE(int64_t)
QUENCH_INSTANTIATE_REDUCE(int8_t)
QUENCH_INSTANTIATE_REDUCE(uint8_t)
#undef QUENCH_INSTANTIATE_REDUCE

}  // namespace quench::ref

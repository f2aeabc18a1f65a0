// Building blocks of the element-wise reference kernels: element types as C++ types (16-bit
// floats are stored as bits and computed in float), dispatch on a DType, and broadcast loops that
// walk the output in contiguous runs, so that same-shape, scalar, row and column broadcasts all
// stay tight inner loops.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "core/half.h"
#include "quench/tensor.h"

namespace quench::ref::elementwise {

// 16-bit floats as stored in tensors.
struct Float16 {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};

// The type an element is computed in: float for the 16-bit floats, itself otherwise.
template <class T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<Float16> {
  using type = float;
};
template <>
struct ComputeType<BFloat16> {
  using type = float;
};
template <class T>
using compute_t = typename ComputeType<T>::type;

template <class T>
compute_t<T> load(T value) {
  return value;
}
inline float load(Float16 value) { return half_to_float(value.bits); }
inline float load(BFloat16 value) { return bfloat16_to_float(value.bits); }

// Stores a computed value as T (round to nearest even for the 16-bit floats).
template <class T, class C>
T store(C value) {
  if constexpr (std::is_same_v<T, Float16>) {
    return Float16{float_to_half(static_cast<float>(value))};
  } else if constexpr (std::is_same_v<T, BFloat16>) {
    return BFloat16{float_to_bfloat16(static_cast<float>(value))};
  } else {
    return static_cast<T>(value);
  }
}

// Float to integer: truncation toward zero, saturating at the integer type's range, NaN to 0
// (C++ leaves out-of-range conversions undefined; ONNX leaves them unspecified).
template <class To, class From>
To float_to_int(From value) {
  if (std::isnan(value)) return To(0);
  if (value <= static_cast<From>(std::numeric_limits<To>::lowest())) {
    return std::numeric_limits<To>::lowest();
  }
  // The bound rounds up to a power of two for the wide types, so every smaller value converts.
  if (value >= static_cast<From>(std::numeric_limits<To>::max())) {
    return std::numeric_limits<To>::max();
  }
  return static_cast<To>(value);
}

// Classes of element types an op accepts (a bit mask).
enum TypeClass : unsigned {
  kFloats = 1u << 0,  // float, double, float16, bfloat16
  kSignedInts = 1u << 1,
  kUnsignedInts = 1u << 2,
  kBools = 1u << 3,
};
inline constexpr unsigned kInts = kSignedInts | kUnsignedInts;
inline constexpr unsigned kNumeric = kFloats | kInts;

template <class T>
constexpr unsigned type_class() {
  if constexpr (std::is_same_v<T, bool>) {
    return kBools;
  } else if constexpr (std::is_floating_point_v<T> || std::is_same_v<T, Float16> ||
                       std::is_same_v<T, BFloat16>) {
    return kFloats;
  } else if constexpr (std::is_integral_v<T>) {
    return std::is_signed_v<T> ? kSignedInts : kUnsignedInts;
  } else {
    return 0;
  }
}
template <class T>
inline constexpr bool is_float_v = type_class<T>() == kFloats;
template <class T>
inline constexpr bool is_int_v = (type_class<T>() & kInts) != 0;

// "float types, signed integers": for error messages.
std::string type_class_names(unsigned classes);

template <class T>
struct Type {
  using type = T;
};

// Calls fn(Type<T>{}) with the C++ element type of `dtype`; Type<void> for types kernels do not
// compute on (string, undefined).
template <class Fn>
decltype(auto) visit_dtype(DType dtype, Fn&& fn) {
  switch (dtype) {
    case DType::kFloat32:
      return fn(Type<float>{});
    case DType::kFloat64:
      return fn(Type<double>{});
    case DType::kFloat16:
      return fn(Type<Float16>{});
    case DType::kBFloat16:
      return fn(Type<BFloat16>{});
    case DType::kInt8:
      return fn(Type<int8_t>{});
    case DType::kInt16:
      return fn(Type<int16_t>{});
    case DType::kInt32:
      return fn(Type<int32_t>{});
    case DType::kInt64:
      return fn(Type<int64_t>{});
    case DType::kUInt8:
      return fn(Type<uint8_t>{});
    case DType::kUInt16:
      return fn(Type<uint16_t>{});
    case DType::kUInt32:
      return fn(Type<uint32_t>{});
    case DType::kUInt64:
      return fn(Type<uint64_t>{});
    case DType::kBool:
      return fn(Type<bool>{});
    default:
      return fn(Type<void>{});
  }
}

// The output of a broadcast walked as `runs` runs of `run_length` contiguous output elements
// (run r starts at output element r * run_length). Within a run, input k advances by
// run_step[k]: 1, or 0 when it is broadcast along the whole run. Trailing dims are merged into
// the run as long as every input stays contiguous or constant along them.
struct BroadcastRuns {
  Shape outer_shape;                 // output dims outside the run (size-1 dims dropped)
  std::vector<Shape> outer_strides;  // [input][outer dim], in elements
  std::vector<int64_t> run_step;     // [input]
  int64_t run_length = 1;
  int64_t runs = 0;

  // Element offsets of the N inputs at the start of run `run`.
  template <size_t N>
  std::array<int64_t, N> offsets(int64_t run) const {
    std::array<int64_t, N> offset{};
    for (int dim = static_cast<int>(outer_shape.size()) - 1; dim >= 0; --dim) {
      const int64_t coord = run % outer_shape[dim];
      run /= outer_shape[dim];
      for (size_t k = 0; k < N; ++k) offset[k] += coord * outer_strides[k][dim];
    }
    return offset;
  }
};

// Plans the walk of `output` (the broadcast of `inputs`, which the caller has checked).
BroadcastRuns plan_broadcast(const std::vector<Shape>& inputs, const Shape& output);

// out[i] = op(in[i]) for `count` elements.
template <class In, class Out, class Op>
void unary_loop(int64_t count, const In* in, Out* out, const Op& op) {
  for (int64_t i = 0; i < count; ++i) out[i] = op(in[i]);
}

// out = op(a, b) with a and b broadcast to the output.
template <class A, class B, class Out, class Op>
void binary_loop(const BroadcastRuns& plan, const A* a, const B* b, Out* out, const Op& op) {
  const int64_t n = plan.run_length;
  const bool a_moves = plan.run_step[0] != 0;
  const bool b_moves = plan.run_step[1] != 0;
  for (int64_t run = 0; run < plan.runs; ++run) {
    const auto [offset_a, offset_b] = plan.offsets<2>(run);
    const A* x = a + offset_a;
    const B* y = b + offset_b;
    Out* z = out + run * n;
    if (a_moves && b_moves) {
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y[i]);
    } else if (a_moves) {
      const B y0 = *y;
      for (int64_t i = 0; i < n; ++i) z[i] = op(x[i], y0);
    } else if (b_moves) {
      const A x0 = *x;
      for (int64_t i = 0; i < n; ++i) z[i] = op(x0, y[i]);
    } else {
      std::fill(z, z + n, op(*x, *y));
    }
  }
}

// out = condition ? x : y with all three broadcast to the output.
template <class T>
void select_loop(const BroadcastRuns& plan, const bool* condition, const T* x, const T* y, T* out) {
  const int64_t n = plan.run_length;
  const int64_t step_c = plan.run_step[0], step_x = plan.run_step[1], step_y = plan.run_step[2];
  for (int64_t run = 0; run < plan.runs; ++run) {
    const auto [offset_c, offset_x, offset_y] = plan.offsets<3>(run);
    const bool* c = condition + offset_c;
    const T* xs = x + offset_x;
    const T* ys = y + offset_y;
    T* z = out + run * n;
    for (int64_t i = 0; i < n; ++i) z[i] = c[i * step_c] ? xs[i * step_x] : ys[i * step_y];
  }
}

}  // namespace quench::ref::elementwise

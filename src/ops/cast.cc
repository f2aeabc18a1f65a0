// Cast and CastLike between the numeric types and bool (string casts are not supported).
//
// Conversions follow the ONNX Cast rules, with the cases ONNX leaves undefined made definite:
//  - float to integer truncates toward zero, saturates at the integer range, and maps NaN to 0;
//  - integer to narrower integer wraps (two's complement), e.g. int16 200 -> int8 -56;
//  - anything to bool is "!= 0" (NaN is true), bool to anything is 0 or 1;
//  - to float16 / bfloat16 rounds to nearest even once, from any source type (a double goes
//    through float with round-to-odd, which keeps the second rounding correct).
#include <bit>
#include <cmath>

#include "core/check.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/elementwise.h"

namespace quench::elementwise {
namespace {

using namespace ref::elementwise;  // NOLINT: the element type vocabulary of this file

// The float nearest to `value` toward zero, with its last bit set when inexact: rounding that to
// a type of at most 22 significand bits then equals rounding `value` directly.
float to_float_round_to_odd(double value) {
  const float nearest = static_cast<float>(value);
  if (std::isnan(value) || static_cast<double>(nearest) == value) return nearest;
  uint32_t bits = std::bit_cast<uint32_t>(nearest);
  if (std::abs(static_cast<double>(nearest)) > std::abs(value)) --bits;  // toward zero
  return std::bit_cast<float>(bits | 1u);
}

template <class To, class From>
To convert(From value) {
  if constexpr (std::is_same_v<To, From>) {
    return value;
  } else if constexpr (std::is_same_v<From, Float16> || std::is_same_v<From, BFloat16>) {
    return convert<To>(load(value));  // exact in float
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != From(0);
  } else if constexpr (std::is_same_v<To, Float16> || std::is_same_v<To, BFloat16>) {
    if constexpr (std::is_same_v<From, float>) {
      return store<To>(value);
    } else {
      // Integers are exact in double up to 2^53, far beyond the float16 range.
      return store<To>(to_float_round_to_odd(static_cast<double>(value)));
    }
  } else if constexpr (is_int_v<To> && std::is_floating_point_v<From>) {
    return float_to_int<To>(value);
  } else {
    return static_cast<To>(value);
  }
}

std::unique_ptr<Kernel> cast_kernel(KernelContext& ctx, DType to) {
  const DType from = ctx.input(0).dtype;
  const int64_t count = ctx.input(0).numel();
  constexpr unsigned kTypes = kNumeric | kBools;
  return visit_dtype(from, [&]<class In>(Type<In>) -> std::unique_ptr<Kernel> {
    if constexpr ((type_class<In>() & kTypes) == 0) {
      fail_dtype(ctx, from, kTypes);
    } else {
      return visit_dtype(to, [&]<class Out>(Type<Out>) -> std::unique_ptr<Kernel> {
        if constexpr ((type_class<Out>() & kTypes) == 0) {
          ctx.fail(ErrorKind::kUnsupported, "casting to {} is not supported (expected {})",
                   dtype_name(to), type_class_names(kTypes));
        } else {
          return ref::make_kernel(
              [count](const KernelArgs& a) {
                unary_loop(count, ref::in<In>(a, 0), ref::out<Out>(a, 0),
                           [](In v) { return convert<Out>(v); });
              },
              0, std::is_same_v<In, Out> ? 0 : -1);
        }
      });
    }
  });
}

DType cast_target(const Node& node) {
  const int64_t to = node.require_int("to");
  QUENCH_CHECK(dtype_is_known(to) && to != 0, ErrorKind::kInvalidModel,
               "{}: 'to' = {} is not a known element type", node.describe(), to);
  return static_cast<DType>(to);
}

void infer_cast(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{cast_target(ctx.node()), x.shape, ""};
}

std::unique_ptr<Kernel> ref_cast(KernelContext& ctx) {
  return cast_kernel(ctx, cast_target(ctx.node));
}

// CastLike: the target type is that of input 1 (whose values are not read).
void infer_cast_like(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{ctx.input_type(1), x.shape, ""};
}

std::unique_ptr<Kernel> ref_cast_like(KernelContext& ctx) {
  return cast_kernel(ctx, ctx.input(1).dtype);
}

}  // namespace

void register_cast_ops(OpRegistry& r) {
  r.add({"", "Cast", 6, infer_cast, ref_cast, {}});
  r.add({"", "CastLike", 15, infer_cast_like, ref_cast_like, {}});
}

}  // namespace quench::elementwise

// Binary element-wise ops with numpy broadcasting (arithmetic, comparisons, logic, shifts, Pow)
// and the variadic Min, Max, Sum and Mean.
//
// Integer arithmetic wraps around as in numpy (computed in uint64_t, where overflow is
// defined); integer division and remainder by zero give 0 instead of trapping.
#include <cmath>
#include <limits>

#include "kernels/ref/elementwise.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/elementwise.h"

namespace quench::elementwise {
namespace {

using namespace ref::elementwise;  // NOLINT: the element type vocabulary of this file

template <class C, class Fn>
C wrapping(C a, C b, Fn fn) {
  return static_cast<C>(fn(static_cast<uint64_t>(a), static_cast<uint64_t>(b)));
}

struct Add : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return wrapping(a, b, [](uint64_t x, uint64_t y) { return x + y; });
    } else {
      return a + b;
    }
  }
};

struct Sub : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return wrapping(a, b, [](uint64_t x, uint64_t y) { return x - y; });
    } else {
      return a - b;
    }
  }
};

struct Mul : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      return wrapping(a, b, [](uint64_t x, uint64_t y) { return x * y; });
    } else {
      return a * b;
    }
  }
};

// Integer division truncates toward zero (C++ and ONNX Runtime); lowest / -1 wraps to lowest.
struct Div : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == C(0)) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return wrapping(C(0), a, [](uint64_t x, uint64_t y) { return x - y; });
      }
      return static_cast<C>(a / b);
    } else {
      return a / b;
    }
  }
};

// fmod = 1: C fmod (the sign of the dividend); fmod = 0 (integers only): Python's % (the sign
// of the divisor).
struct Mod {
  static constexpr unsigned kTypes = kNumeric;
  bool fmod;
  explicit Mod(const Node& n) : fmod(n.attr_int("fmod", 0) != 0) {}
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_integral_v<C>) {
      if (b == C(0)) return C(0);
      if constexpr (std::is_signed_v<C>) {
        if (b == C(-1)) return C(0);  // also avoids the trap of lowest % -1
      }
      const C r = static_cast<C>(a % b);
      if (!fmod && r != C(0) && ((r < C(0)) != (b < C(0)))) return static_cast<C>(r + b);
      return r;
    } else {
      return std::fmod(a, b);
    }
  }
};

void infer_mod(InferContext& ctx) {
  const int64_t fmod = ctx.node().attr_int("fmod", 0);
  if (fmod != 0 && fmod != 1) ctx.fail("fmod must be 0 or 1, got {}", fmod);
  const DType type = common_input_type(ctx, 0, 2);
  if (fmod == 0 && type != DType::kUndefined && dtype_info(type).is_float) {
    ctx.fail("fmod must be 1 for floating-point inputs ({})", dtype_name(type));
  }
  ctx.set_output_type(0, type);
  infer_broadcast_shape(ctx, 0, 2);
}

// Max and Min propagate NaN, as numpy.maximum / numpy.minimum do.
struct Max : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(a) || std::isnan(b)) return a + b;
    }
    return a < b ? b : a;
  }
};

struct Min : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C a, C b) const {
    if constexpr (std::is_floating_point_v<C>) {
      if (std::isnan(a) || std::isnan(b)) return a + b;
    }
    return b < a ? b : a;
  }
};

struct Sum : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  template <class C>
  C operator()(C a, C b) const {
    return a + b;
  }
};
using Mean = Sum;  // divided by the input count afterwards

#define QUENCH_PREDICATE_OP(Name, types, expr) \
  struct Name : NoAttributes {                 \
    using NoAttributes::NoAttributes;          \
    static constexpr unsigned kTypes = types;  \
    template <class C>                         \
    bool operator()(C a, C b) const {          \
      return expr;                             \
    }                                          \
  };
QUENCH_PREDICATE_OP(Equal, kNumeric | kBools, a == b)
QUENCH_PREDICATE_OP(Less, kNumeric, a < b)
QUENCH_PREDICATE_OP(Greater, kNumeric, a > b)
QUENCH_PREDICATE_OP(LessOrEqual, kNumeric, a <= b)
QUENCH_PREDICATE_OP(GreaterOrEqual, kNumeric, a >= b)
QUENCH_PREDICATE_OP(And, kBools, (a && b))
QUENCH_PREDICATE_OP(Or, kBools, (a || b))
QUENCH_PREDICATE_OP(Xor, kBools, a != b)
#undef QUENCH_PREDICATE_OP

// Shifting by the bit width or more gives 0 (undefined in C++).
struct BitShift {
  static constexpr unsigned kTypes = kUnsignedInts;
  bool left;
  explicit BitShift(const Node& n) : left(n.attr_string("direction", "") == "LEFT") {}
  template <class C>
  C operator()(C a, C b) const {
    if (b >= C(8 * sizeof(C))) return C(0);
    return static_cast<C>(left ? static_cast<uint64_t>(a) << b : a >> b);
  }
};

void infer_bitshift(InferContext& ctx) {
  const std::string direction = ctx.node().attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") {
    ctx.fail("direction must be \"LEFT\" or \"RIGHT\", got \"{}\"", direction);
  }
  ctx.set_output_type(0, common_input_type(ctx, 0, 2));
  infer_broadcast_shape(ctx, 0, 2);
}

void infer_binary(InferContext& ctx) {
  ctx.set_output_type(0, common_input_type(ctx, 0, 2));
  infer_broadcast_shape(ctx, 0, 2);
}

void infer_comparison(InferContext& ctx) {
  common_input_type(ctx, 0, 2);
  ctx.set_output_type(0, DType::kBool);
  infer_broadcast_shape(ctx, 0, 2);
}

void infer_variadic(InferContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.fail("expected at least one input");
  ctx.set_output_type(0, common_input_type(ctx, 0, ctx.num_inputs()));
  infer_broadcast_shape(ctx, 0, ctx.num_inputs());
}

// The stored result of `op` on two stored elements: bool for comparisons, T otherwise.
template <class Op, class T>
using BinaryOut =
    std::conditional_t<std::is_same_v<decltype(std::declval<Op>()(load(T{}), load(T{}))), bool>,
                       bool, T>;

template <class Op>
std::unique_ptr<Kernel> ref_binary(KernelContext& ctx) {
  const Op op(ctx.node);
  const DType type = ctx.input(0).dtype;
  if (ctx.input(1).dtype != type) {
    ctx.fail(ErrorKind::kInvalidModel, "inputs must have one element type, got {} and {}",
             dtype_name(type), dtype_name(ctx.input(1).dtype));
  }
  const Shape out_shape = broadcast_output_shape(ctx, 0, 2);
  const BroadcastRuns plan = plan_broadcast({ctx.input(0).shape, ctx.input(1).shape}, out_shape);
  return visit_dtype(type, [&]<class T>(Type<T>) -> std::unique_ptr<Kernel> {
    if constexpr ((type_class<T>() & Op::kTypes) == 0) {
      fail_dtype(ctx, type, Op::kTypes);
    } else {
      using Out = BinaryOut<Op, T>;
      return ref::make_kernel(
          [plan, op](const KernelArgs& a) {
            binary_loop(plan, ref::in<T>(a, 0), ref::in<T>(a, 1), ref::out<Out>(a, 0),
                        [&op](T x, T y) { return store<Out>(op(load(x), load(y))); });
          },
          0, inplace_candidate(ctx, 2, std::is_same_v<Out, T> ? type : DType::kBool));
    }
  });
}

// Min, Max, Sum (and Mean, divided by the input count at the end): a fold over the inputs, the
// first step broadcasting inputs 0 and 1 into the output, each next one the output and input k.
template <class Op, bool kMean = false>
std::unique_ptr<Kernel> ref_variadic(KernelContext& ctx) {
  const Op op(ctx.node);
  const size_t num_inputs = ctx.inputs.size();
  if (num_inputs == 0) ctx.fail(ErrorKind::kInvalidModel, "expected at least one input");
  const DType type = ctx.input(0).dtype;
  for (size_t k = 1; k < num_inputs; ++k) {
    if (ctx.input(k).dtype != type) {
      ctx.fail(ErrorKind::kInvalidModel,
               "inputs must have one element type: input 0 is {}, input {} is {}", dtype_name(type),
               k, dtype_name(ctx.input(k).dtype));
    }
  }
  const Shape out_shape = broadcast_output_shape(ctx, 0, num_inputs);
  const int64_t count = shape_numel(out_shape);
  std::vector<BroadcastRuns> steps;
  if (num_inputs >= 2) {
    steps.push_back(plan_broadcast({ctx.input(0).shape, ctx.input(1).shape}, out_shape));
  }
  for (size_t k = 2; k < num_inputs; ++k) {
    steps.push_back(plan_broadcast({out_shape, ctx.input(k).shape}, out_shape));
  }
  return visit_dtype(type, [&]<class T>(Type<T>) -> std::unique_ptr<Kernel> {
    if constexpr ((type_class<T>() & Op::kTypes) == 0) {
      fail_dtype(ctx, type, Op::kTypes);
    } else {
      return ref::make_kernel(
          [steps, op, count, num_inputs](const KernelArgs& a) {
            T* out = ref::out<T>(a, 0);
            const auto apply = [&op](T x, T y) { return store<T>(op(load(x), load(y))); };
            if (num_inputs == 1) {
              const T* in = ref::in<T>(a, 0);
              if (in != out) std::copy(in, in + count, out);
            } else {
              binary_loop(steps[0], ref::in<T>(a, 0), ref::in<T>(a, 1), out, apply);
              for (size_t k = 2; k < num_inputs; ++k) {
                binary_loop(steps[k - 1], static_cast<const T*>(out), ref::in<T>(a, k), out, apply);
              }
            }
            if constexpr (kMean) {
              using C = compute_t<T>;
              const C inputs = static_cast<C>(num_inputs);
              for (int64_t i = 0; i < count; ++i) out[i] = store<T>(load(out[i]) / inputs);
            }
          },
          // Inputs past the first two are read after the output is written.
          0, inplace_candidate(ctx, std::min<size_t>(num_inputs, 2), type));
    }
  });
}

// Integer powers by squaring, wrapping on overflow like numpy; a negative exponent gives the
// real result truncated toward zero (0 unless the base is 1 or -1).
template <class T, class E>
T integer_power(T base, E exponent) {
  if constexpr (std::is_signed_v<E>) {
    if (exponent < 0) {
      if (base == T(1)) return T(1);
      if (base == T(-1)) return exponent % 2 == 0 ? T(1) : T(-1);
      return T(0);
    }
  }
  uint64_t result = 1;
  uint64_t factor = static_cast<uint64_t>(base);
  for (uint64_t e = static_cast<uint64_t>(exponent); e != 0; e >>= 1) {
    if (e & 1) result *= factor;
    factor *= factor;
  }
  return static_cast<T>(result);
}

// Float powers in float when both operands are (at most) float, in double otherwise, as numpy
// promotes; an integer base gets the result truncated toward zero.
template <class T, class E>
T power(T base, E exponent) {
  if constexpr (is_int_v<T> && is_int_v<E>) {
    return integer_power(base, exponent);
  } else {
    using Wide = std::conditional_t<
        std::is_same_v<compute_t<T>, float> && std::is_same_v<compute_t<E>, float>, float, double>;
    const Wide b = static_cast<Wide>(load(base));
    const Wide e = static_cast<Wide>(load(exponent));
    // Squares are common (variances) and b * b is exactly what pow rounds to, much faster.
    const Wide result = e == Wide(2) ? b * b : std::pow(b, e);
    if constexpr (is_int_v<T>) {
      return float_to_int<T>(result);
    } else {
      return store<T>(result);
    }
  }
}

// Pow: the exponent may have another type than the base (opset 12); the output has the base's.
void infer_pow(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  infer_broadcast_shape(ctx, 0, 2);
}

std::unique_ptr<Kernel> ref_pow(KernelContext& ctx) {
  const DType base_type = ctx.input(0).dtype;
  const DType exponent_type = ctx.input(1).dtype;
  const Shape out_shape = broadcast_output_shape(ctx, 0, 2);
  const BroadcastRuns plan = plan_broadcast({ctx.input(0).shape, ctx.input(1).shape}, out_shape);
  const int inplace = inplace_candidate(ctx, 1, base_type);
  constexpr unsigned kBaseTypes = kFloats | kSignedInts;
  return visit_dtype(base_type, [&]<class T>(Type<T>) -> std::unique_ptr<Kernel> {
    if constexpr ((type_class<T>() & kBaseTypes) == 0) {
      fail_dtype(ctx, base_type, kBaseTypes);
    } else {
      return visit_dtype(exponent_type, [&]<class E>(Type<E>) -> std::unique_ptr<Kernel> {
        if constexpr ((type_class<E>() & kNumeric) == 0) {
          fail_dtype(ctx, exponent_type, kNumeric);
        } else {
          return ref::make_kernel(
              [plan](const KernelArgs& a) {
                binary_loop(plan, ref::in<T>(a, 0), ref::in<E>(a, 1), ref::out<T>(a, 0),
                            [](T base, E exponent) { return power(base, exponent); });
              },
              0, inplace);
        }
      });
    }
  });
}

}  // namespace

void register_binary_ops(OpRegistry& r) {
  auto add = [&r](const char* op_type, int64_t min_opset, InferFn infer, KernelFactory make) {
    r.add({"", op_type, min_opset, infer, make, {}});
  };
  add("Add", 7, infer_binary, ref_binary<Add>);
  add("Sub", 7, infer_binary, ref_binary<Sub>);
  add("Mul", 7, infer_binary, ref_binary<Mul>);
  add("Div", 7, infer_binary, ref_binary<Div>);
  add("Mod", 10, infer_mod, ref_binary<Mod>);
  add("Pow", 7, infer_pow, ref_pow);
  add("BitShift", 11, infer_bitshift, ref_binary<BitShift>);
  add("Equal", 7, infer_comparison, ref_binary<Equal>);
  add("Less", 7, infer_comparison, ref_binary<Less>);
  add("Greater", 7, infer_comparison, ref_binary<Greater>);
  add("LessOrEqual", 12, infer_comparison, ref_binary<LessOrEqual>);
  add("GreaterOrEqual", 12, infer_comparison, ref_binary<GreaterOrEqual>);
  add("And", 7, infer_comparison, ref_binary<And>);
  add("Or", 7, infer_comparison, ref_binary<Or>);
  add("Xor", 7, infer_comparison, ref_binary<Xor>);
  // Opset 6 versions require equal shapes, a case of the broadcasting kernels.
  add("Max", 6, infer_variadic, ref_variadic<Max>);
  add("Min", 6, infer_variadic, ref_variadic<Min>);
  add("Sum", 6, infer_variadic, ref_variadic<Sum>);
  add("Mean", 6, infer_variadic, ref_variadic<Mean, true>);
}

}  // namespace quench::elementwise

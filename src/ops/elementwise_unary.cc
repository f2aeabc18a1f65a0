// Unary element-wise ops (math functions, activations, predicates) and Clip.
//
// Each op is a functor on the compute type of an element (float for the 16-bit floats), built
// from the node's attributes once; kTypes says which element types it accepts.
#include <cmath>
#include <limits>

#include "kernels/ref/elementwise.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/elementwise.h"

namespace quench::elementwise {
namespace {

using namespace ref::elementwise;  // NOLINT: the element type vocabulary of this file

// Integer negation wraps around (-(-128) == -128 for int8), as in numpy.
template <class C>
C negate(C x) {
  if constexpr (std::is_integral_v<C>) {
    return static_cast<C>(uint64_t{0} - static_cast<uint64_t>(x));
  } else {
    return -x;
  }
}

// Comparisons are written so that NaN falls through unchanged.
template <class C>
C hard_sigmoid(C x, C alpha, C beta) {
  const C v = alpha * x + beta;
  return v < C(0) ? C(0) : (v > C(1) ? C(1) : v);
}

struct Relu : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats | kSignedInts;
  template <class C>
  C operator()(C x) const {
    return x < C(0) ? C(0) : x;
  }
};

struct LeakyRelu {
  static constexpr unsigned kTypes = kFloats;
  float alpha;
  explicit LeakyRelu(const Node& n) : alpha(n.attr_float("alpha", 0.01f)) {}
  template <class C>
  C operator()(C x) const {
    return x < C(0) ? C(alpha) * x : x;
  }
};

struct Elu {
  static constexpr unsigned kTypes = kFloats;
  float alpha;
  explicit Elu(const Node& n) : alpha(n.attr_float("alpha", 1.f)) {}
  template <class C>
  C operator()(C x) const {
    return x < C(0) ? C(alpha) * std::expm1(x) : x;
  }
};

struct Selu {
  static constexpr unsigned kTypes = kFloats;
  float alpha, gamma;
  explicit Selu(const Node& n)
      : alpha(n.attr_float("alpha", 1.67326319217681884765625f)),
        gamma(n.attr_float("gamma", 1.05070102214813232421875f)) {}
  template <class C>
  C operator()(C x) const {
    return x <= C(0) ? C(gamma) * C(alpha) * std::expm1(x) : C(gamma) * x;
  }
};

struct Sigmoid : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  // exp of a negative argument only, so that neither branch overflows.
  template <class C>
  C operator()(C x) const {
    if (x >= C(0)) return C(1) / (C(1) + std::exp(-x));
    const C e = std::exp(x);
    return e / (C(1) + e);
  }
};

struct HardSigmoid {
  static constexpr unsigned kTypes = kFloats;
  float alpha, beta;
  explicit HardSigmoid(const Node& n)
      : alpha(n.attr_float("alpha", 0.2f)), beta(n.attr_float("beta", 0.5f)) {}
  template <class C>
  C operator()(C x) const {
    return hard_sigmoid(x, C(alpha), C(beta));
  }
};

struct HardSwish : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  template <class C>
  C operator()(C x) const {
    return x * hard_sigmoid(x, C(1) / C(6), C(0.5));
  }
};

// Ops that are one <cmath> function on float types.
#define QUENCH_CMATH_OP(Name, expr)             \
  struct Name : NoAttributes {                  \
    using NoAttributes::NoAttributes;           \
    static constexpr unsigned kTypes = kFloats; \
    template <class C>                          \
    C operator()(C x) const {                   \
      return expr;                              \
    }                                           \
  };
QUENCH_CMATH_OP(Tanh, std::tanh(x))
QUENCH_CMATH_OP(Erf, std::erf(x))
QUENCH_CMATH_OP(Exp, std::exp(x))
QUENCH_CMATH_OP(Log, std::log(x))
QUENCH_CMATH_OP(Sqrt, std::sqrt(x))
QUENCH_CMATH_OP(Reciprocal, C(1) / x)
QUENCH_CMATH_OP(Floor, std::floor(x))
QUENCH_CMATH_OP(Ceil, std::ceil(x))
QUENCH_CMATH_OP(Sin, std::sin(x))
QUENCH_CMATH_OP(Cos, std::cos(x))
QUENCH_CMATH_OP(Softsign, x / (C(1) + std::abs(x)))
#undef QUENCH_CMATH_OP

// Halves round to even, independently of the floating-point rounding mode.
struct Round : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  template <class C>
  C operator()(C x) const {
    if (std::abs(x - std::trunc(x)) == C(0.5)) return C(2) * std::round(x / C(2));
    return std::round(x);
  }
};

// log(1 + exp(x)) without overflow for large x.
struct Softplus : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  template <class C>
  C operator()(C x) const {
    return x > C(0) ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  }
};

struct Neg : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats | kSignedInts;
  template <class C>
  C operator()(C x) const {
    return negate(x);
  }
};

struct Abs : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C x) const {
    if constexpr (std::is_floating_point_v<C>) {
      return std::abs(x);
    } else {
      return x < C(0) ? negate(x) : x;
    }
  }
};

// -1, 0 or 1; floats keep NaN and the sign of zero.
struct Sign : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kNumeric;
  template <class C>
  C operator()(C x) const {
    return x > C(0) ? C(1) : (x < C(0) ? negate(C(1)) : x);
  }
};

struct Not : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kBools;
  bool operator()(bool x) const { return !x; }
};

struct IsNaN : NoAttributes {
  using NoAttributes::NoAttributes;
  static constexpr unsigned kTypes = kFloats;
  template <class C>
  bool operator()(C x) const {
    return std::isnan(x);
  }
};

struct IsInf {
  static constexpr unsigned kTypes = kFloats;
  bool negative, positive;
  explicit IsInf(const Node& n)
      : negative(n.attr_int("detect_negative", 1) != 0),
        positive(n.attr_int("detect_positive", 1) != 0) {}
  template <class C>
  bool operator()(C x) const {
    return std::isinf(x) && (x > C(0) ? positive : negative);
  }
};

// The kernel of a unary op: bool output for predicates, the input type otherwise.
template <class Op>
std::unique_ptr<Kernel> ref_unary(KernelContext& ctx) {
  const Op op(ctx.node);
  const TensorDesc& x = ctx.input(0);
  const int64_t count = x.numel();
  return visit_dtype(x.dtype, [&]<class T>(Type<T>) -> std::unique_ptr<Kernel> {
    if constexpr ((type_class<T>() & Op::kTypes) == 0) {
      fail_dtype(ctx, x.dtype, Op::kTypes);
    } else {
      using Result = decltype(op(load(T{})));
      using Out = std::conditional_t<std::is_same_v<Result, bool>, bool, T>;
      return ref::make_kernel(
          [count, op](const KernelArgs& a) {
            unary_loop(count, ref::in<T>(a, 0), ref::out<Out>(a, 0),
                       [&op](T v) { return store<Out>(op(load(v))); });
          },
          0, std::is_same_v<Out, T> ? 0 : -1);
    }
  });
}

// Clip: bounds are attributes up to opset 10, optional scalar inputs from opset 11.
void infer_clip(InferContext& ctx) {
  if (ctx.opset() >= 11) common_input_type(ctx, 0, 3);
  infer_same_as_input(ctx);
}

std::unique_ptr<Kernel> ref_clip(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const int64_t count = x.numel();
  const bool bounds_are_inputs = ctx.opset >= 11;
  // Clip-6 defaults are those of the spec: the float range.
  const float min_attr = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
  const float max_attr = ctx.node.attr_float("max", std::numeric_limits<float>::max());
  const bool has_min = bounds_are_inputs && ctx.has_input(1);
  const bool has_max = bounds_are_inputs && ctx.has_input(2);
  for (size_t i = 1; i <= 2; ++i) {
    if (!bounds_are_inputs || !ctx.has_input(i)) continue;
    const TensorDesc& bound = ctx.inputs[i];
    if (bound.dtype != x.dtype || bound.numel() != 1) {
      ctx.fail(ErrorKind::kInvalidModel, "{} must be a scalar of type {}, got {} of shape {}",
               i == 1 ? "min" : "max", dtype_name(x.dtype), dtype_name(bound.dtype),
               shape_str(bound.shape));
    }
  }
  constexpr unsigned kTypes = kNumeric;
  return visit_dtype(x.dtype, [&]<class T>(Type<T>) -> std::unique_ptr<Kernel> {
    using C = compute_t<T>;
    if constexpr ((type_class<T>() & kTypes) == 0) {
      fail_dtype(ctx, x.dtype, kTypes);
    } else if (!bounds_are_inputs && !is_float_v<T>) {
      ctx.fail(ErrorKind::kInvalidModel, "Clip before opset 11 takes float types, got {}",
               dtype_name(x.dtype));
    } else {
      // An absent bound does not clip (infinity keeps infinite inputs for float types).
      constexpr C kLowest = std::numeric_limits<C>::has_infinity
                                ? -std::numeric_limits<C>::infinity()
                                : std::numeric_limits<C>::lowest();
      constexpr C kHighest = std::numeric_limits<C>::has_infinity
                                 ? std::numeric_limits<C>::infinity()
                                 : std::numeric_limits<C>::max();
      const C fixed_min = bounds_are_inputs ? kLowest : C(min_attr);
      const C fixed_max = bounds_are_inputs ? kHighest : C(max_attr);
      return ref::make_kernel(
          [=](const KernelArgs& a) {
            const C lo = has_min ? load(ref::in<T>(a, 1)[0]) : fixed_min;
            const C hi = has_max ? load(ref::in<T>(a, 2)[0]) : fixed_max;
            // min(max, max(x, min)): all values become `hi` when lo > hi, as the spec says.
            unary_loop(count, ref::in<T>(a, 0), ref::out<T>(a, 0), [lo, hi](T v) {
              C c = load(v);
              c = c < lo ? lo : c;
              return store<T>(c > hi ? hi : c);
            });
          },
          0, 0);
    }
  });
}

}  // namespace

void register_unary_ops(OpRegistry& r) {
  auto add = [&r](const char* op_type, int64_t min_opset, InferFn infer, KernelFactory make) {
    r.add({"", op_type, min_opset, infer, make, {}});
  };
  add("Relu", 6, infer_same_as_input, ref_unary<Relu>);
  add("LeakyRelu", 6, infer_same_as_input, ref_unary<LeakyRelu>);
  add("Elu", 6, infer_same_as_input, ref_unary<Elu>);
  add("Selu", 6, infer_same_as_input, ref_unary<Selu>);
  add("Sigmoid", 6, infer_same_as_input, ref_unary<Sigmoid>);
  add("HardSigmoid", 6, infer_same_as_input, ref_unary<HardSigmoid>);
  add("HardSwish", 14, infer_same_as_input, ref_unary<HardSwish>);
  add("Tanh", 6, infer_same_as_input, ref_unary<Tanh>);
  add("Erf", 9, infer_same_as_input, ref_unary<Erf>);
  add("Exp", 6, infer_same_as_input, ref_unary<Exp>);
  add("Log", 6, infer_same_as_input, ref_unary<Log>);
  add("Sqrt", 6, infer_same_as_input, ref_unary<Sqrt>);
  add("Neg", 6, infer_same_as_input, ref_unary<Neg>);
  add("Abs", 6, infer_same_as_input, ref_unary<Abs>);
  add("Reciprocal", 6, infer_same_as_input, ref_unary<Reciprocal>);
  add("Floor", 6, infer_same_as_input, ref_unary<Floor>);
  add("Ceil", 6, infer_same_as_input, ref_unary<Ceil>);
  add("Round", 11, infer_same_as_input, ref_unary<Round>);
  add("Sign", 9, infer_same_as_input, ref_unary<Sign>);
  add("Softplus", 1, infer_same_as_input, ref_unary<Softplus>);
  add("Softsign", 1, infer_same_as_input, ref_unary<Softsign>);
  add("Sin", 7, infer_same_as_input, ref_unary<Sin>);
  add("Cos", 7, infer_same_as_input, ref_unary<Cos>);
  add("Not", 1, infer_same_as_input, ref_unary<Not>);
  add("IsNaN", 9, infer_bool_like_input, ref_unary<IsNaN>);
  add("IsInf", 10, infer_bool_like_input, ref_unary<IsInf>);
  add("Clip", 6, infer_clip, ref_clip);
}

}  // namespace quench::elementwise

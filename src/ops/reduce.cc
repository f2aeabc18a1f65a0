// Reductions: ReduceSum, ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2,
// ReduceSumSquare, ReduceLogSum, ReduceLogSumExp (opset 1+; axes become an input in ReduceSum 13
// and in the others at 18), and ArgMax / ArgMin (1+).
#include "ops/reduce.h"
#include "core/check.h"

#include <cstring>

#include "ir/shape_util.h"
#include "kernels/ref/reduce.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

constexpr int64_t kMaxReduceRank = 64;  // reduced dims are bits of a uint64_t

bool axes_are_input(const Node& node, int64_t opset) {
  return opset >= 18 || (node.op_type == "ReduceSum" && opset >= 13);
}

uint64_t all_dims(int64_t rank) { return rank >= 64 ? ~uint64_t{0} : (uint64_t{1} << rank) - 1; }

// The dims named by axes[0..count) as a bit mask; `kind` and `where` describe a bad axis.
uint64_t axes_mask(const int64_t* axes, size_t count, int64_t rank, bool noop, ErrorKind kind,
                   const std::string& where) {
  if (count == 0) return noop ? 0 : all_dims(rank);
  uint64_t mask = 0;
  for (size_t i = 0; i < count; ++i) {
    const int64_t axis = axes[i];
    if (axis < -rank || axis >= rank) {
      fail(kind, "{}: axis {} is out of range for rank {}", where, axis, rank);
    }
    mask |= uint64_t{1} << (axis < 0 ? axis + rank : axis);
  }
  return mask;
}

bool reduced(uint64_t mask, size_t dim) { return ((mask >> dim) & 1u) != 0; }

// Whether `out` is the result shape of reducing `in` over `mask`.
bool is_reduced_shape(const Shape& in, uint64_t mask, bool keepdims, const Shape& out) {
  size_t o = 0;
  for (size_t d = 0; d < in.size(); ++d) {
    if (reduced(mask, d) && !keepdims) continue;
    const int64_t want = reduced(mask, d) ? 1 : in[d];
    if (o >= out.size() || out[o] != want) return false;
    ++o;
  }
  return o == out.size();
}

// Product of the dims of `shape` that are (or are not) reduced.
int64_t count_dims(const Shape& shape, uint64_t mask, bool want_reduced) {
  int64_t n = 1;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced(mask, d) == want_reduced) n *= shape[d];
  }
  return n;
}

// Calls make(T{}) for the element type `dtype` of a reduction's input.
template <class Make>
std::unique_ptr<Kernel> with_type(const KernelContext& ctx, DType dtype, Make&& make) {
  switch (dtype) {
    case DType::kFloat32:
      return make(float{});
    case DType::kFloat64:
      return make(double{});
    case DType::kInt32:
      return make(int32_t{});
    case DType::kInt64:
      return make(int64_t{});
    case DType::kInt8:
      return make(int8_t{});
    case DType::kUInt8:
      return make(uint8_t{});
    default:
      ctx.fail(ErrorKind::kUnsupported,
               "supports float, double, int32, int64, int8 and uint8 inputs, got {}",
               dtype_name(dtype));
  }
}

void infer_reduce(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueInfo& x = ctx.input(0);
  ctx.set_output_type(0, x.dtype);
  int64_t axes_count = -1;
  if (ctx.has_input(1)) {
    const DType t = ctx.input_type(1);
    if (t != DType::kUndefined && t != DType::kInt64) {
      ctx.fail("axes must be int64, got {}", dtype_name(t));
    }
    const SymbolicShape* s = ctx.input_shape(1);
    if (s != nullptr && s->size() != 1) ctx.fail("axes must be 1-D, got shape {}", shape_str(*s));
    if (s != nullptr && (*s)[0].known()) axes_count = (*s)[0].value;
  }
  const ReduceAttrs attrs = reduce_attrs(node, ctx.opset(), ctx.constant(1), axes_count);
  // Axes known only at run time: the output shape stays unset here, so that a shape declared in
  // the model is kept (a partial shape would replace it).
  if (!x.shape || attrs.axes_at_run_time) return;
  const SymbolicShape& xs = *x.shape;
  const uint64_t mask = reduced_dims(attrs, static_cast<int64_t>(xs.size()), node);
  SymbolicShape out;
  for (size_t d = 0; d < xs.size(); ++d) {
    if (!reduced(mask, d)) {
      out.push_back(xs[d]);
    } else if (attrs.keepdims) {
      out.push_back(Dim(1));
    }
  }
  ctx.output(0).shape = std::move(out);
}

// The axes are fixed: the offsets are computed once here.
template <ref::ReduceOp op>
std::unique_ptr<Kernel> fixed_axes_kernel(const KernelContext& ctx, const ReduceAttrs& attrs) {
  const Shape& in_shape = ctx.input(0).shape;
  const uint64_t mask = reduced_dims(attrs, static_cast<int64_t>(in_shape.size()), ctx.node);
  std::vector<int64_t> base(count_dims(in_shape, mask, false));
  std::vector<int64_t> inner(count_dims(in_shape, mask, true));
  ref::reduction_offsets(in_shape, mask, base.data(), inner.data());
  return with_type(ctx, ctx.input(0).dtype, [&](auto tag) {
    using T = decltype(tag);
    return ref::make_kernel([base, inner](const KernelArgs& a) {
      const ref::ReduceLayout layout{base.data(), static_cast<int64_t>(base.size()), inner.data(),
                                     static_cast<int64_t>(inner.size())};
      ref::reduce<T>(op, layout, ref::in<T>(a, 0), ref::out<T>(a, 0));
    });
  });
}

// The axes input is only known when the node runs: the offsets are computed then, in scratch
// memory sized for the (fixed) input and output shapes.
template <ref::ReduceOp op>
std::unique_ptr<Kernel> run_time_axes_kernel(const KernelContext& ctx, const ReduceAttrs& attrs) {
  const Shape in_shape = ctx.input(0).shape;
  const Shape out_shape = ctx.outputs[0].shape;
  const int64_t out_count = shape_numel(out_shape);
  const int64_t inner_bound = out_count > 0 ? shape_numel(in_shape) / out_count : 0;
  const size_t axes_count = static_cast<size_t>(ctx.input(1).numel());
  const bool keepdims = attrs.keepdims;
  const bool noop = attrs.noop_with_empty_axes;
  const std::string where = ctx.node.describe();
  const size_t scratch = static_cast<size_t>(out_count + inner_bound) * sizeof(int64_t);
  return with_type(ctx, ctx.input(0).dtype, [&](auto tag) {
    using T = decltype(tag);
    return ref::make_kernel(
        [=](const KernelArgs& a) {
          const int64_t rank = static_cast<int64_t>(in_shape.size());
          const uint64_t mask = axes_mask(ref::in<int64_t>(a, 1), axes_count, rank, noop,
                                          ErrorKind::kInvalidArgument, where);
          QUENCH_CHECK(is_reduced_shape(in_shape, mask, keepdims, out_shape),
                       ErrorKind::kInvalidArgument,
                       "{}: the axes given reduce {} to another shape than the planned {}", where,
                       shape_str(in_shape), shape_str(out_shape));
          if (out_count == 0) return;
          int64_t* base = static_cast<int64_t*>(a.scratch);
          int64_t* inner = base + out_count;
          ref::reduction_offsets(in_shape, mask, base, inner);
          const ref::ReduceLayout layout{base, out_count, inner, count_dims(in_shape, mask, true)};
          ref::reduce<T>(op, layout, ref::in<T>(a, 0), ref::out<T>(a, 0));
        },
        scratch);
  });
}

template <ref::ReduceOp op>
std::unique_ptr<Kernel> ref_reduce(KernelContext& ctx) {
  const TensorDesc* axes = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  const ReduceAttrs attrs =
      reduce_attrs(ctx.node, ctx.opset, axes ? axes->constant : nullptr, axes ? axes->numel() : -1);
  if (ctx.input(0).rank() > kMaxReduceRank) {
    ctx.fail(ErrorKind::kUnsupported, "inputs of rank above {} are not supported", kMaxReduceRank);
  }
  if (attrs.axes_at_run_time) return run_time_axes_kernel<op>(ctx, attrs);
  return fixed_axes_kernel<op>(ctx, attrs);
}

void infer_arg_reduce(InferContext& ctx) {
  const Node& node = ctx.node();
  ctx.set_output_type(0, DType::kInt64);
  const SymbolicShape* xs = ctx.input_shape(0);
  if (xs == nullptr) return;
  const int64_t axis =
      normalize_axis(node.attr_int("axis", 0), static_cast<int64_t>(xs->size()), node);
  if ((*xs)[axis].known() && (*xs)[axis].value == 0) ctx.fail("axis {} is empty", axis);
  SymbolicShape out = *xs;
  if (node.attr_int("keepdims", 1) != 0) {
    out[axis] = Dim(1);
  } else {
    out.erase(out.begin() + axis);
  }
  ctx.output(0).shape = std::move(out);
}

template <bool is_max>
std::unique_ptr<Kernel> ref_arg_reduce(KernelContext& ctx) {
  const Shape& x = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(x.size());
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), rank, ctx.node);
  ref::ArgReduceParams p;
  p.max = is_max;
  p.select_last = ctx.node.attr_int("select_last_index", 0) != 0;
  p.outer = 1;
  p.inner = 1;
  for (int64_t d = 0; d < axis; ++d) p.outer *= x[d];
  for (int64_t d = axis + 1; d < rank; ++d) p.inner *= x[d];
  p.axis = x[axis];
  if (p.axis == 0) ctx.fail(ErrorKind::kInvalidModel, "axis {} is empty", axis);
  return with_type(ctx, ctx.input(0).dtype, [&](auto tag) {
    using T = decltype(tag);
    return ref::make_kernel([p](const KernelArgs& a) {
      ref::arg_reduce<T>(p, ref::in<T>(a, 0), ref::out<int64_t>(a, 0));
    });
  });
}

}  // namespace

ReduceAttrs reduce_attrs(const Node& node, int64_t opset, const Tensor* axes_value,
                         int64_t axes_count) {
  ReduceAttrs attrs;
  attrs.keepdims = node.attr_int("keepdims", 1) != 0;
  if (!axes_are_input(node, opset)) {
    QUENCH_CHECK(!node.has_input(1), ErrorKind::kInvalidModel,
                 "{}: axes is an attribute at opset {}, not an input", node.describe(), opset);
    attrs.axes = node.attr_ints("axes");
    return attrs;
  }
  QUENCH_CHECK(!node.has_attr("axes"), ErrorKind::kInvalidModel,
               "{}: axes is an input at opset {}, not an attribute", node.describe(), opset);
  attrs.noop_with_empty_axes = node.attr_int("noop_with_empty_axes", 0) != 0;
  if (!node.has_input(1) || axes_count == 0) return attrs;
  if (axes_value != nullptr) {
    attrs.axes = axes_value->to_int64_vector();
  } else {
    attrs.axes_at_run_time = true;
  }
  return attrs;
}

uint64_t reduced_dims(const ReduceAttrs& attrs, int64_t rank, const Node& node) {
  QUENCH_CHECK(rank <= kMaxReduceRank, ErrorKind::kUnsupported,
               "{}: inputs of rank above {} are not supported", node.describe(), kMaxReduceRank);
  return axes_mask(attrs.axes.data(), attrs.axes.size(), rank, attrs.noop_with_empty_axes,
                   ErrorKind::kInvalidModel, node.describe());
}

void register_reduce_ops(OpRegistry& r) {
  using ref::ReduceOp;
  r.add({"", "ReduceSum", 1, infer_reduce, ref_reduce<ReduceOp::kSum>, {}});
  r.add({"", "ReduceMean", 1, infer_reduce, ref_reduce<ReduceOp::kMean>, {}});
  r.add({"", "ReduceMax", 1, infer_reduce, ref_reduce<ReduceOp::kMax>, {}});
  r.add({"", "ReduceMin", 1, infer_reduce, ref_reduce<ReduceOp::kMin>, {}});
  r.add({"", "ReduceProd", 1, infer_reduce, ref_reduce<ReduceOp::kProd>, {}});
  r.add({"", "ReduceL1", 1, infer_reduce, ref_reduce<ReduceOp::kL1>, {}});
  r.add({"", "ReduceL2", 1, infer_reduce, ref_reduce<ReduceOp::kL2>, {}});
  r.add({"", "ReduceSumSquare", 1, infer_reduce, ref_reduce<ReduceOp::kSumSquare>, {}});
  r.add({"", "ReduceLogSum", 1, infer_reduce, ref_reduce<ReduceOp::kLogSum>, {}});
  r.add({"", "ReduceLogSumExp", 1, infer_reduce, ref_reduce<ReduceOp::kLogSumExp>, {}});
  r.add({"", "ArgMax", 1, infer_arg_reduce, ref_arg_reduce<true>, {}});
  r.add({"", "ArgMin", 1, infer_arg_reduce, ref_arg_reduce<false>, {}});
}

}  // namespace quench

// Element-wise ops: shared shape inference and kernel-building helpers, Where, and the
// registration of the whole family (unary ops in elementwise_unary.cc, binary and variadic ops
// in elementwise_binary.cc, Cast in cast.cc).
#include "ops/elementwise.h"

#include "ir/shape_util.h"
#include "kernels/ref/elementwise.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/register.h"

namespace quench {
namespace elementwise {

void infer_same_as_input(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
}

void infer_bool_like_input(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  ctx.output(0) = ValueInfo{DType::kBool, x.shape, ""};
}

DType common_input_type(const InferContext& ctx, size_t first, size_t count) {
  DType common = DType::kUndefined;
  size_t common_index = first;
  for (size_t i = first; i < first + count; ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t == DType::kUndefined) continue;
    if (common == DType::kUndefined) {
      common = t;
      common_index = i;
    } else if (t != common) {
      ctx.fail("inputs must have one element type: input {} is {}, input {} is {}", common_index,
               dtype_name(common), i, dtype_name(t));
    }
  }
  return common;
}

void infer_broadcast_shape(InferContext& ctx, size_t first, size_t count) {
  std::optional<SymbolicShape> shape;
  for (size_t i = first; i < first + count; ++i) {
    if (!ctx.has_input(i)) continue;
    const SymbolicShape* s = ctx.input_shape(i);
    if (s == nullptr) return;
    if (!shape) {
      shape = *s;
      continue;
    }
    auto merged = broadcast_shapes(*shape, *s);
    if (!merged) {
      ctx.fail("input {} of shape {} cannot be broadcast with shape {}", i, shape_str(*s),
               shape_str(*shape));
    }
    shape = std::move(merged);
  }
  if (shape) ctx.output(0).shape = std::move(shape);
}

Shape broadcast_output_shape(const KernelContext& ctx, size_t first, size_t count) {
  Shape shape = ctx.input(first).shape;
  for (size_t i = first + 1; i < first + count; ++i) {
    auto merged = broadcast_shapes(shape, ctx.input(i).shape);
    if (!merged) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} of shape {} cannot be broadcast with shape {}",
               i, shape_str(ctx.input(i).shape), shape_str(shape));
    }
    shape = std::move(*merged);
  }
  if (shape != ctx.outputs.at(0).shape) {
    ctx.fail(ErrorKind::kInternal, "inputs broadcast to {} but the output has shape {}",
             shape_str(shape), shape_str(ctx.outputs.at(0).shape));
  }
  return shape;
}

int inplace_candidate(const KernelContext& ctx, size_t count, DType out_type) {
  const TensorDesc& out = ctx.outputs.at(0);
  for (size_t i = 0; i < count; ++i) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype == out_type && ctx.inputs[i].shape == out.shape) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

void fail_dtype(const KernelContext& ctx, DType got, unsigned accepted_classes) {
  ctx.fail(ErrorKind::kUnsupported, "element type {} is not supported (expected {})",
           dtype_name(got), ref::elementwise::type_class_names(accepted_classes));
}

namespace {

using ref::elementwise::BroadcastRuns;

void infer_where(InferContext& ctx) {
  const DType condition = ctx.input_type(0);
  if (condition != DType::kUndefined && condition != DType::kBool) {
    ctx.fail("condition must be bool, got {}", dtype_name(condition));
  }
  ctx.set_output_type(0, common_input_type(ctx, 1, 2));
  infer_broadcast_shape(ctx, 0, 3);
}

// Where moves whole elements, so it only needs their size.
template <class Word>
std::unique_ptr<Kernel> where_kernel(BroadcastRuns plan) {
  return ref::make_kernel([plan](const KernelArgs& a) {
    ref::elementwise::select_loop(plan, ref::in<bool>(a, 0), ref::in<Word>(a, 1),
                                  ref::in<Word>(a, 2), ref::out<Word>(a, 0));
  });
}

std::unique_ptr<Kernel> ref_where(KernelContext& ctx) {
  const DType type = ctx.input(1).dtype;
  if (ctx.input(0).dtype != DType::kBool || ctx.input(2).dtype != type) {
    ctx.fail(ErrorKind::kInvalidModel,
             "expected a bool condition and X, Y of one type, got {}, {}, {}",
             dtype_name(ctx.input(0).dtype), dtype_name(type), dtype_name(ctx.input(2).dtype));
  }
  const Shape out_shape = broadcast_output_shape(ctx, 0, 3);
  BroadcastRuns plan = ref::elementwise::plan_broadcast(
      {ctx.input(0).shape, ctx.input(1).shape, ctx.input(2).shape}, out_shape);
  switch (dtype_size(type)) {
    case 1:
      return where_kernel<uint8_t>(std::move(plan));
    case 2:
      return where_kernel<uint16_t>(std::move(plan));
    case 4:
      return where_kernel<uint32_t>(std::move(plan));
    case 8:
      return where_kernel<uint64_t>(std::move(plan));
    default:
      ctx.fail(ErrorKind::kUnsupported, "element type {} is not supported", dtype_name(type));
  }
}

}  // namespace
}  // namespace elementwise

void register_elementwise_ops(OpRegistry& r) {
  elementwise::register_unary_ops(r);
  elementwise::register_binary_ops(r);
  elementwise::register_cast_ops(r);
  r.add({"", "Where", 9, elementwise::infer_where, elementwise::ref_where, {}});
}

}  // namespace quench

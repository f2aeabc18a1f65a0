// Shape-manipulation ops.
#include "ops/shape_ops.h"

#include <algorithm>
#include <cstring>

#include "ir/op_registry.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/register.h"

namespace quench {
namespace {

// Shape (opset 15 adds start/end, clamped into [0, rank]).
std::pair<int64_t, int64_t> shape_range(const Node& node, int64_t rank) {
  auto clamp = [rank](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  const int64_t start = clamp(node.attr_int("start", 0));
  const int64_t end = clamp(node.attr_int("end", rank));
  return {start, std::max(start, end)};
}

void infer_shape(InferContext& ctx) {
  ctx.set_output_type(0, DType::kInt64);
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  auto [start, end] = shape_range(ctx.node(), static_cast<int64_t>(s->size()));
  ctx.output(0).shape = SymbolicShape{Dim(end - start)};
}

std::unique_ptr<Kernel> ref_shape(KernelContext& ctx) {
  const Tensor value = evaluate_shape_op(ctx.node, ctx.input(0).shape);
  return ref::make_kernel([value](const KernelArgs& a) {
    std::memcpy(a.outputs[0], value.raw_data(), value.nbytes());
  });
}

void infer_identity(InferContext& ctx) { ctx.output(0) = ctx.input(0); }

std::unique_ptr<Kernel> ref_identity(KernelContext& ctx) {
  const size_t bytes = static_cast<size_t>(ctx.input(0).numel()) * dtype_size(ctx.input(0).dtype);
  return ref::make_kernel(
      [bytes](const KernelArgs& a) {
        if (a.outputs[0] != a.inputs[0] && bytes) std::memcpy(a.outputs[0], a.inputs[0], bytes);
      },
      0, 0);
}

const Tensor& constant_value(const Node& node) {
  const Tensor* t = node.attr_tensor("value");
  QUENCH_CHECK(t != nullptr, ErrorKind::kUnsupported,
               "{}: only the 'value' attribute of Constant is supported", node.describe());
  return *t;
}

void infer_constant(InferContext& ctx) {
  const Node& node = ctx.node();
  if (node.has_attr("value_float")) {
    ctx.set_output(0, DType::kFloat32, {});
  } else if (node.has_attr("value_int")) {
    ctx.set_output(0, DType::kInt64, {});
  } else if (node.has_attr("value_floats")) {
    ctx.set_output(0, DType::kFloat32, {Dim(int64_t(node.attr_floats("value_floats").size()))});
  } else if (node.has_attr("value_ints")) {
    ctx.set_output(0, DType::kInt64, {Dim(int64_t(node.attr_ints("value_ints").size()))});
  } else {
    const Tensor& t = constant_value(node);
    ctx.set_output(0, t.dtype(), symbolic(t.shape()));
  }
}

Tensor constant_tensor(const Node& node) {
  if (node.has_attr("value_float")) return Tensor::scalar(node.attr_float("value_float", 0));
  if (node.has_attr("value_int")) return Tensor::scalar<int64_t>(node.attr_int("value_int", 0));
  if (node.has_attr("value_floats")) {
    auto v = node.attr_floats("value_floats");
    return Tensor::from_vector<float>({int64_t(v.size())}, v);
  }
  if (node.has_attr("value_ints")) {
    auto v = node.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({int64_t(v.size())}, v);
  }
  return constant_value(node);
}

std::unique_ptr<Kernel> ref_constant(KernelContext& ctx) {
  const Tensor value = constant_tensor(ctx.node);
  return ref::make_kernel([value](const KernelArgs& a) {
    if (value.nbytes()) std::memcpy(a.outputs[0], value.raw_data(), value.nbytes());
  });
}

}  // namespace

Tensor evaluate_shape_op(const Node& node, const Shape& input) {
  auto [start, end] = shape_range(node, static_cast<int64_t>(input.size()));
  std::vector<int64_t> dims(input.begin() + start, input.begin() + end);
  return Tensor::from_vector<int64_t>({end - start}, dims);
}

void register_shape_ops(OpRegistry& r) {
  r.add({"", "Shape", 1, infer_shape, ref_shape, {}});
  r.add({"", "Identity", 1, infer_identity, ref_identity, {}});
  r.add({"", "Constant", 1, infer_constant, ref_constant, {}});
}

}  // namespace quench

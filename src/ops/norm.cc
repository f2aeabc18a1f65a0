// Normalization ops: BatchNormalization (inference, opset 7+), LayerNormalization (17),
// InstanceNormalization (6), and the softmax family: Softmax, LogSoftmax, Hardmax (1+).
#include "ops/norm.h"

#include "ir/shape_util.h"
#include "kernels/ref/broadcast.h"
#include "kernels/ref/norm.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

bool is_float_type(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

int64_t product(const Shape& shape, size_t begin, size_t end) {
  int64_t n = 1;
  for (size_t d = begin; d < end; ++d) n *= shape[d];
  return n;
}

// Whether `param` is unidirectionally broadcastable to `target` (unknown dims match anything).
bool broadcastable_to(const SymbolicShape& param, const SymbolicShape& target) {
  if (param.size() > target.size()) return false;
  for (size_t i = 0; i < param.size(); ++i) {
    const Dim& p = param[param.size() - 1 - i];
    const Dim& t = target[target.size() - 1 - i];
    if (p.known() && t.known() && p.value != 1 && p.value != t.value) return false;
  }
  return true;
}

// Shapes equal where both dims are known.
bool compatible(const SymbolicShape& a, const SymbolicShape& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].known() && b[i].known() && a[i].value != b[i].value) return false;
  }
  return true;
}

// Fails unless inputs `first`..`last` (those present, of known type) have element type `want`.
void check_types(const InferContext& ctx, size_t first, size_t last, DType want) {
  if (want == DType::kUndefined) return;
  for (size_t i = first; i <= last; ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t != DType::kUndefined && t != want) {
      ctx.fail("input {} has element type {}, expected {}", i, dtype_name(t), dtype_name(want));
    }
  }
}

// Fails with kUnsupported unless every present input has X's float element type.
DType kernel_float_type(const KernelContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  if (!is_float_type(dtype)) {
    ctx.fail(ErrorKind::kUnsupported, "supports float and double, got {}", dtype_name(dtype));
  }
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype != dtype) {
      ctx.fail(ErrorKind::kUnsupported, "input {} has element type {}; only {} like X is supported",
               i, dtype_name(ctx.inputs[i].dtype), dtype_name(dtype));
    }
  }
  return dtype;
}

void infer_softmax(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  if (x.dtype != DType::kUndefined && !dtype_info(x.dtype).is_float) {
    ctx.fail("input must be a float tensor, got {}", dtype_name(x.dtype));
  }
  if (x.shape) {
    const int64_t fallback = ctx.opset() < 13 ? 1 : -1;
    normalize_axis(ctx.node().attr_int("axis", fallback), x.shape->size(), ctx.node());
  }
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
}

template <class T>
std::unique_ptr<Kernel> softmax_kernel(const ref::SoftmaxParams& p) {
  return ref::make_kernel(
      [p](const KernelArgs& a) { ref::softmax<T>(p, ref::in<T>(a, 0), ref::out<T>(a, 0)); }, 0, 0);
}

template <ref::SoftmaxKind kind>
std::unique_ptr<Kernel> ref_softmax(KernelContext& ctx) {
  const DType dtype = kernel_float_type(ctx);
  const SoftmaxGeometry g = softmax_geometry(ctx.node, ctx.opset, ctx.input(0).shape);
  const ref::SoftmaxParams p{kind, g.outer, g.axis, g.inner};
  if (dtype == DType::kFloat64) return softmax_kernel<double>(p);
  return softmax_kernel<float>(p);
}

// Fails unless the present inputs `first`..`last` have shape `want`.
void check_param_shapes(const InferContext& ctx, size_t first, size_t last,
                        const SymbolicShape& want, const SymbolicShape& x) {
  static const char* const kNames[] = {"X", "scale", "B", "mean", "var"};
  for (size_t i = first; i <= last; ++i) {
    const SymbolicShape* s = ctx.has_input(i) ? ctx.input_shape(i) : nullptr;
    if (s != nullptr && !compatible(*s, want)) {
      ctx.fail("{} has shape {}, expected {} for X of shape {}", kNames[i], shape_str(*s),
               shape_str(want), shape_str(x));
    }
  }
}

void infer_batch_norm(InferContext& ctx) {
  const Node& node = ctx.node();
  const BatchNormAttrs attrs = batch_norm_attrs(node, ctx.opset());
  if (ctx.opset() >= 14 && !attrs.training) {
    for (size_t i = 1; i < node.outputs.size(); ++i) {
      if (!node.outputs[i].empty()) ctx.fail("output {} is only produced with training_mode=1", i);
    }
  }
  const ValueInfo& x = ctx.input(0);
  if (x.dtype != DType::kUndefined && !dtype_info(x.dtype).is_float) {
    ctx.fail("X must be a float tensor, got {}", dtype_name(x.dtype));
  }
  if (ctx.opset() < 15) {
    check_types(ctx, 1, 4, x.dtype);
  } else {  // scale and B share one type, mean and var another
    if (ctx.has_input(1)) check_types(ctx, 2, 2, ctx.input_type(1));
    if (ctx.has_input(3)) check_types(ctx, 4, 4, ctx.input_type(3));
  }
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
  const SymbolicShape* xs = x.shape ? &*x.shape : nullptr;
  if (xs != nullptr && xs->empty()) ctx.fail("X must have rank >= 1, got a scalar");
  SymbolicShape param_shape{xs != nullptr && xs->size() > 1 ? (*xs)[1] : Dim(1)};
  if (attrs.per_activation && xs != nullptr) param_shape.assign(xs->begin() + 1, xs->end());
  if (xs != nullptr) check_param_shapes(ctx, 1, 4, param_shape, *xs);
  // Training statistics (only computed in training mode, which the kernels reject).
  const DType stats_type = ctx.has_input(3) ? ctx.input_type(3) : x.dtype;
  for (size_t i = 1; i < ctx.num_outputs(); ++i) {
    ctx.set_output(i, stats_type, xs != nullptr ? param_shape : SymbolicShape{Dim()});
  }
}

template <class T>
std::unique_ptr<Kernel> batch_norm_kernel(const ref::BatchNormParams& p) {
  return ref::make_kernel(
      [p](const KernelArgs& a) {
        using ref::in;
        ref::batch_norm<T>(p, in<T>(a, 0), in<T>(a, 1), in<T>(a, 2), in<T>(a, 3), in<T>(a, 4),
                           ref::out<T>(a, 0));
      },
      0, 0);
}

std::unique_ptr<Kernel> ref_batch_norm(KernelContext& ctx) {
  const BatchNormAttrs attrs = batch_norm_attrs(ctx.node, ctx.opset);
  if (attrs.training) {
    ctx.fail(ErrorKind::kUnsupported, "training mode is not supported (inference only)");
  }
  const DType dtype = kernel_float_type(ctx);
  const Shape& x = ctx.input(0).shape;
  ref::BatchNormParams p;
  p.epsilon = attrs.epsilon;
  p.batch = x[0];
  p.channels = attrs.per_activation ? product(x, 1, x.size()) : (x.size() > 1 ? x[1] : 1);
  p.spatial = attrs.per_activation ? 1 : product(x, 2, x.size());
  for (size_t i = 1; i <= 4; ++i) {
    if (ctx.input(i).numel() != p.channels) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} has shape {}, expected {} values", i,
               shape_str(ctx.input(i).shape), p.channels);
    }
  }
  if (dtype == DType::kFloat64) return batch_norm_kernel<double>(p);
  return batch_norm_kernel<float>(p);
}

void infer_instance_norm(InferContext& ctx) {
  const ValueInfo& x = ctx.input(0);
  if (x.dtype != DType::kUndefined && !dtype_info(x.dtype).is_float) {
    ctx.fail("input must be a float tensor, got {}", dtype_name(x.dtype));
  }
  check_types(ctx, 1, 2, x.dtype);
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
  if (!x.shape) return;
  if (x.shape->size() < 2) ctx.fail("input must have rank >= 2, got {}", shape_str(*x.shape));
  check_param_shapes(ctx, 1, 2, SymbolicShape{(*x.shape)[1]}, *x.shape);
}

template <class T>
std::unique_ptr<Kernel> instance_norm_kernel(const ref::BatchNormParams& p) {
  return ref::make_kernel(
      [p](const KernelArgs& a) {
        ref::instance_norm<T>(p, ref::in<T>(a, 0), ref::in<T>(a, 1), ref::in<T>(a, 2),
                              ref::out<T>(a, 0));
      },
      0, 0);
}

std::unique_ptr<Kernel> ref_instance_norm(KernelContext& ctx) {
  const DType dtype = kernel_float_type(ctx);
  const Shape& x = ctx.input(0).shape;
  ref::BatchNormParams p;
  p.epsilon = ctx.node.attr_float("epsilon", 1e-5f);
  p.batch = x[0];
  p.channels = x[1];
  p.spatial = product(x, 2, x.size());
  if (dtype == DType::kFloat64) return instance_norm_kernel<double>(p);
  return instance_norm_kernel<float>(p);
}

DType stash_type(const InferContext& ctx) {
  const int64_t code = ctx.node().attr_int("stash_type", 1);
  if (code != static_cast<int64_t>(DType::kFloat32) &&
      code != static_cast<int64_t>(DType::kBFloat16)) {
    ctx.fail("stash_type must be 1 (float) or 16 (bfloat16), got {}", code);
  }
  return static_cast<DType>(code);
}

void infer_layer_norm(InferContext& ctx) {
  const Node& node = ctx.node();
  const ValueInfo& x = ctx.input(0);
  if (x.dtype != DType::kUndefined && !dtype_info(x.dtype).is_float) {
    ctx.fail("X must be a float tensor, got {}", dtype_name(x.dtype));
  }
  check_types(ctx, 1, 2, x.dtype);
  ctx.output(0) = ValueInfo{x.dtype, x.shape, ""};
  const DType stats_type = stash_type(ctx);
  ctx.set_output_type(1, stats_type);
  ctx.set_output_type(2, stats_type);
  if (!x.shape) return;
  const SymbolicShape& xs = *x.shape;
  const int64_t rank = static_cast<int64_t>(xs.size());
  const int64_t axis = normalize_axis(node.attr_int("axis", -1), rank, node);
  static const char* const kNames[] = {"X", "Scale", "B"};
  for (size_t i = 1; i <= 2; ++i) {
    const SymbolicShape* s = ctx.has_input(i) ? ctx.input_shape(i) : nullptr;
    if (s != nullptr && !broadcastable_to(*s, xs)) {
      ctx.fail("{} of shape {} cannot be broadcast to X of shape {}", kNames[i], shape_str(*s),
               shape_str(xs));
    }
  }
  SymbolicShape stats(xs.begin(), xs.begin() + axis);
  stats.resize(xs.size(), Dim(1));
  ctx.set_output(1, stats_type, stats);
  ctx.set_output(2, stats_type, stats);
}

// Where row `row`, column `col` of X (viewed as [rows, cols]) reads a Scale or B broadcast to X:
// offsets[row * row_step + col]. Empty offsets: the parameter is read at `col`.
struct ParamIndex {
  std::vector<int64_t> offsets;
  int64_t row_step = 0;
};

ParamIndex param_index(const Shape& param, const Shape& x, int64_t axis, int64_t cols) {
  const Shape strides = ref::broadcast_strides(param, x);
  bool varies_by_row = false;
  for (int64_t d = 0; d < axis; ++d) varies_by_row |= strides[d] != 0;
  if (!varies_by_row && shape_numel(param) == cols) return {};  // exactly the normalized shape
  ParamIndex index;
  const size_t first_dim = varies_by_row ? 0 : static_cast<size_t>(axis);
  const int64_t count = varies_by_row ? shape_numel(x) : cols;
  index.row_step = varies_by_row ? cols : 0;
  index.offsets.resize(count);
  for (int64_t i = 0; i < count; ++i) {
    int64_t rest = i, offset = 0;
    for (size_t d = x.size(); d-- > first_dim;) {
      offset += rest % x[d] * strides[d];
      rest /= x[d];
    }
    index.offsets[i] = offset;
  }
  return index;
}

// Which optional arguments the node has (the argument arrays are only as long as its lists).
struct LayerNormArgs {
  bool bias = false, mean = false, inv_std = false;
};

template <class T>
std::unique_ptr<Kernel> layer_norm_kernel(ref::LayerNormParams p, ParamIndex scale, ParamIndex bias,
                                          LayerNormArgs has) {
  return ref::make_kernel(
      [p, scale = std::move(scale), bias = std::move(bias), has](const KernelArgs& a) {
        ref::LayerNormParams params = p;
        if (!scale.offsets.empty()) params.scale_offsets = scale.offsets.data();
        if (!bias.offsets.empty()) params.bias_offsets = bias.offsets.data();
        ref::layer_norm<T>(params, ref::in<T>(a, 0), ref::in<T>(a, 1),
                           has.bias ? ref::in<T>(a, 2) : nullptr, ref::out<T>(a, 0),
                           has.mean ? ref::out<float>(a, 1) : nullptr,
                           has.inv_std ? ref::out<float>(a, 2) : nullptr);
      },
      0, 0);
}

std::unique_ptr<Kernel> ref_layer_norm(KernelContext& ctx) {
  const DType dtype = kernel_float_type(ctx);
  if (ctx.node.attr_int("stash_type", 1) != static_cast<int64_t>(DType::kFloat32)) {
    ctx.fail(ErrorKind::kUnsupported, "only stash_type=1 (float) is supported");
  }
  const Shape& x = ctx.input(0).shape;
  const LayerNormGeometry g = layer_norm_geometry(ctx.node, x);
  ref::LayerNormParams p;
  p.rows = g.rows;
  p.cols = g.cols;
  p.epsilon = g.epsilon;
  LayerNormArgs has;
  has.bias = ctx.has_input(2);
  has.mean = ctx.outputs.size() > 1 && ctx.outputs[1].present();
  has.inv_std = ctx.outputs.size() > 2 && ctx.outputs[2].present();
  ParamIndex scale = param_index(ctx.input(1).shape, x, g.axis, g.cols);
  ParamIndex bias;
  if (has.bias) bias = param_index(ctx.input(2).shape, x, g.axis, g.cols);
  p.scale_row_step = scale.row_step;
  p.bias_row_step = bias.row_step;
  if (dtype == DType::kFloat64) {
    return layer_norm_kernel<double>(p, std::move(scale), std::move(bias), has);
  }
  return layer_norm_kernel<float>(p, std::move(scale), std::move(bias), has);
}

}  // namespace

SoftmaxGeometry softmax_geometry(const Node& node, int64_t opset, const Shape& input) {
  const int64_t rank = static_cast<int64_t>(input.size());
  const int64_t axis = normalize_axis(node.attr_int("axis", opset < 13 ? 1 : -1), rank, node);
  SoftmaxGeometry g;
  g.outer = product(input, 0, axis);
  if (opset < 13) {
    g.axis = product(input, axis, rank);
    g.inner = 1;
  } else {
    g.axis = input[axis];
    g.inner = product(input, axis + 1, rank);
  }
  return g;
}

BatchNormAttrs batch_norm_attrs(const Node& node, int64_t opset) {
  BatchNormAttrs attrs;
  attrs.epsilon = node.attr_float("epsilon", 1e-5f);
  attrs.per_activation = opset < 9 && node.attr_int("spatial", 1) == 0;
  if (opset >= 14) {
    attrs.training = node.attr_int("training_mode", 0) != 0;
  } else {
    for (size_t i = 1; i < node.outputs.size(); ++i) attrs.training |= !node.outputs[i].empty();
  }
  return attrs;
}

LayerNormGeometry layer_norm_geometry(const Node& node, const Shape& x) {
  const int64_t rank = static_cast<int64_t>(x.size());
  LayerNormGeometry g;
  g.axis = normalize_axis(node.attr_int("axis", -1), rank, node);
  g.rows = product(x, 0, g.axis);
  g.cols = product(x, g.axis, rank);
  g.epsilon = node.attr_float("epsilon", 1e-5f);
  return g;
}

void register_norm_ops(OpRegistry& r) {
  r.add({"", "BatchNormalization", 7, infer_batch_norm, ref_batch_norm, {}});
  r.add({"", "InstanceNormalization", 6, infer_instance_norm, ref_instance_norm, {}});
  r.add({"", "LayerNormalization", 17, infer_layer_norm, ref_layer_norm, {}});
  r.add({"", "Softmax", 1, infer_softmax, ref_softmax<ref::SoftmaxKind::kSoftmax>, {}});
  r.add({"", "LogSoftmax", 1, infer_softmax, ref_softmax<ref::SoftmaxKind::kLogSoftmax>, {}});
  r.add({"", "Hardmax", 1, infer_softmax, ref_softmax<ref::SoftmaxKind::kHardmax>, {}});
}

}  // namespace quench

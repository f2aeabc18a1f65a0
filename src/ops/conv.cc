// Conv and ConvTranspose (opsets 1-17, whose semantics do not differ): shape inference and the
// reference kernels of kernels/ref/conv.h.
#include "ops/conv.h"
#include "core/check.h"

#include <algorithm>

#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {

std::string dims_str(const std::vector<int64_t>& dims) {
  std::string s;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i > 0) s += 'x';
    s += dims[i] < 0 ? "?" : std::to_string(dims[i]);
  }
  return s;
}

std::vector<int64_t> spatial_sizes(const SymbolicShape& shape) {
  std::vector<int64_t> sizes;
  for (size_t i = 2; i < shape.size(); ++i) sizes.push_back(shape[i].known() ? shape[i].value : -1);
  return sizes;
}

void check_window_input_rank(const Node& node, const char* what, const SymbolicShape& shape) {
  if (shape.size() < 3) {
    fail_node(node, "input {} has shape {}, expected at least 3 dims [N, C, spatial...]", what,
              shape_str(shape));
  }
}

void check_window_fits(const Node& node, const WindowParams& p,
                       const std::vector<int64_t>& input_spatial) {
  std::vector<int64_t> window, padded;
  bool fits = true;
  bool dilated = false;
  for (int i = 0; i < p.spatial_rank(); ++i) {
    window.push_back((p.kernel[i] - 1) * p.dilations[i] + 1);
    const bool known = input_spatial[i] >= 0 && p.pads_begin[i] >= 0;
    padded.push_back(known ? input_spatial[i] + p.pads_begin[i] + p.pads_end[i] : -1);
    fits &= !known || window[i] <= padded[i];
    dilated |= p.dilations[i] != 1;
  }
  if (fits) return;
  if (dilated) {
    fail_node(node,
              "dilated kernel {} (kernel {}, dilations {}) is larger than the padded input {}",
              dims_str(window), dims_str(p.kernel), dims_str(p.dilations), dims_str(padded));
  }
  fail_node(node, "kernel {} is larger than the padded input {}", dims_str(window),
            dims_str(padded));
}

void check_planned_output(const KernelContext& ctx, size_t i, const Shape& batch_and_channels,
                          const std::vector<int64_t>& spatial) {
  Shape shape = batch_and_channels;
  shape.insert(shape.end(), spatial.begin(), spatial.end());
  QUENCH_CHECK(i < ctx.outputs.size() && ctx.outputs[i].shape == shape, ErrorKind::kInternal,
               "{}: output {} was planned with shape {} but the kernel computes {}",
               ctx.node.describe(), i,
               i < ctx.outputs.size() ? shape_str(ctx.outputs[i].shape) : "none", shape_str(shape));
}

namespace {

// The kernel's spatial sizes: the kernel_shape attribute, else W's spatial dims; nullopt when
// neither is known.
std::optional<std::vector<int64_t>> kernel_sizes(const Node& node, size_t spatial_rank,
                                                 const SymbolicShape* w) {
  const std::vector<int64_t> from_w = w ? spatial_sizes(*w) : std::vector<int64_t>{};
  if (node.has_attr("kernel_shape")) {
    const std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
    if (kernel.size() != spatial_rank) {
      fail_node(node, "attribute 'kernel_shape' has {} values, expected {} (one per spatial dim)",
                kernel.size(), spatial_rank);
    }
    for (size_t i = 0; i < from_w.size(); ++i) {
      if (from_w[i] >= 0 && from_w[i] != kernel[i]) {
        fail_node(node, "attribute 'kernel_shape' {} does not match the spatial dims {} of W",
                  dims_str(kernel), dims_str(from_w));
      }
    }
    return kernel;
  }
  if (!w || std::any_of(from_w.begin(), from_w.end(), [](int64_t k) { return k < 0; })) {
    return std::nullopt;
  }
  return from_w;
}

int64_t group_of(const Node& node) {
  const int64_t group = node.attr_int("group", 1);
  if (group <= 0) fail_node(node, "attribute 'group' must be positive, got {}", group);
  return group;
}

void check_ranks(const Node& node, const SymbolicShape* x, const SymbolicShape* w) {
  if (x) check_window_input_rank(node, "X", *x);
  if (w) check_window_input_rank(node, "W", *w);
  if (x && w && x->size() != w->size()) {
    fail_node(node, "W has rank {} but X has rank {}; W needs one kernel dim per spatial dim of X",
              w->size(), x->size());
  }
}

void check_bias(const Node& node, const SymbolicShape* b, const Dim& out_channels) {
  if (!b) return;
  if (b->size() != 1) {
    fail_node(node, "bias B has shape {}, expected [M] with one value per output channel",
              shape_str(*b));
  }
  if ((*b)[0].known() && out_channels.known() && (*b)[0].value != out_channels.value) {
    fail_node(node, "bias B has {} values, expected one per output channel: {}", (*b)[0].value,
              out_channels.value);
  }
}

// An output shape whose spatial dims are unknown.
SymbolicShape unknown_spatial(const SymbolicShape* x, const SymbolicShape* w,
                              const Dim& out_channels) {
  SymbolicShape out(x ? x->size() : w->size());
  if (x) out[0] = (*x)[0];
  out[1] = out_channels;
  return out;
}

// ConvTranspose output sizes along each spatial dim (-1 when unknown). Resolves p.pads_begin and
// p.pads_end where auto_pad SAME_* or the output_shape attribute decide them.
std::vector<int64_t> conv_transpose_sizes(const Node& node, WindowParams& p,
                                          const std::vector<int64_t>& in) {
  const size_t rank = p.kernel.size();
  const auto output_padding = node.attr_ints("output_padding", std::vector<int64_t>(rank, 0));
  if (output_padding.size() != rank) {
    fail_node(node, "attribute 'output_padding' has {} values, expected {}", output_padding.size(),
              rank);
  }
  std::vector<int64_t> output_shape = node.attr_ints("output_shape");
  // Some exporters give the whole [N, C, spatial...] shape.
  if (output_shape.size() == rank + 2) {
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  }
  if (!output_shape.empty() && output_shape.size() != rank) {
    fail_node(node, "attribute 'output_shape' has {} values, expected {} (one per spatial dim)",
              output_shape.size(), rank);
  }
  for (int64_t size : output_shape) {
    if (size <= 0) fail_node(node, "attribute 'output_shape' has a non-positive size {}", size);
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  const bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";

  std::vector<int64_t> out(rank, -1);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t limit = std::max(p.strides[i], p.dilations[i]);
    if (output_padding[i] < 0 || output_padding[i] >= limit) {
      fail_node(node,
                "output_padding {} along spatial dim {} must be in [0, {}) (below the stride or "
                "the dilation)",
                output_padding[i], i, limit);
    }
    if (in[i] < 0) {
      if (same || !output_shape.empty()) p.pads_begin[i] = p.pads_end[i] = -1;
      if (!output_shape.empty()) out[i] = output_shape[i];
      continue;
    }
    // The output size before any padding is removed.
    const int64_t full =
        p.strides[i] * (in[i] - 1) + output_padding[i] + (p.kernel[i] - 1) * p.dilations[i] + 1;
    int64_t target = 0;
    if (!output_shape.empty()) {
      // A size beyond the full output is reached by zeros at the end.
      target = output_shape[i];
    } else if (same) {
      // in * stride, except that padding cannot be negative (as in ONNX Runtime and ONNX shape
      // inference).
      target = std::min(in[i] * p.strides[i], full);
    } else {
      out[i] = full - p.pads_begin[i] - p.pads_end[i];
      if (out[i] <= 0) {
        fail_node(node, "pads {} and {} along spatial dim {} leave no output (unpadded size {})",
                  p.pads_begin[i], p.pads_end[i], i, full);
      }
      continue;
    }
    // The opset 11 split (opset 1's formula text contradicts its own auto_pad doc): the odd unit
    // of padding goes to the end for SAME_UPPER, to the start otherwise.
    const int64_t total = std::max<int64_t>(0, full - target);
    p.pads_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
    p.pads_end[i] = total - p.pads_begin[i];
    out[i] = target;
  }
  return out;
}

}  // namespace

std::optional<SymbolicShape> conv_output_shape(const Node& node, const SymbolicShape* x,
                                               const SymbolicShape* w, const SymbolicShape* b) {
  check_ranks(node, x, w);
  const int64_t group = group_of(node);
  Dim out_channels;
  if (w) {
    out_channels = (*w)[0];
    if (out_channels.known() && out_channels.value % group != 0) {
      fail_node(node, "W has {} output channels, which group {} does not divide",
                out_channels.value, group);
    }
    if (x && (*x)[1].known() && (*w)[1].known() && (*x)[1].value != (*w)[1].value * group) {
      fail_node(node, "X has {} channels, expected W.shape[1] * group = {} * {} = {}",
                (*x)[1].value, (*w)[1].value, group, (*w)[1].value * group);
    }
  }
  check_bias(node, b, out_channels);
  if (!x && !w) return std::nullopt;
  const auto kernel = kernel_sizes(node, (x ? x->size() : w->size()) - 2, w);
  if (!x || !kernel) return unknown_spatial(x, w, out_channels);
  const std::vector<int64_t> in = spatial_sizes(*x);
  const WindowParams p = parse_window(node, in, *kernel);
  check_window_fits(node, p, in);
  return window_output_shape(p, *x, out_channels);
}

std::optional<SymbolicShape> conv_transpose_output_shape(const Node& node, const SymbolicShape* x,
                                                         const SymbolicShape* w,
                                                         const SymbolicShape* b) {
  check_ranks(node, x, w);
  const int64_t group = group_of(node);
  const Dim in_channels = x ? (*x)[1] : w ? (*w)[0] : Dim();
  if (x && w && (*x)[1].known() && (*w)[0].known() && (*x)[1].value != (*w)[0].value) {
    fail_node(node, "X has {} channels but W.shape[0] is {}; W must be [C, M / group, kernel...]",
              (*x)[1].value, (*w)[0].value);
  }
  if (in_channels.known() && in_channels.value % group != 0) {
    fail_node(node, "X has {} channels, which group {} does not divide", in_channels.value, group);
  }
  Dim out_channels;
  if (w && (*w)[1].known()) out_channels = (*w)[1].value * group;
  check_bias(node, b, out_channels);
  if (!x && !w) return std::nullopt;
  const auto kernel = kernel_sizes(node, (x ? x->size() : w->size()) - 2, w);
  if (!x || !kernel) return unknown_spatial(x, w, out_channels);
  const std::vector<int64_t> in = spatial_sizes(*x);
  WindowParams p = parse_window(node, in, *kernel);
  const std::vector<int64_t> sizes = conv_transpose_sizes(node, p, in);
  SymbolicShape out{(*x)[0], out_channels};
  for (int64_t size : sizes) out.push_back(size >= 0 ? Dim(size) : Dim());
  return out;
}

namespace {

ref::ConvGeometry make_geometry(const Node& node, const Shape& x, int64_t out_channels,
                                const WindowParams& p, std::vector<int64_t> out_size) {
  if (p.spatial_rank() > ref::kMaxSpatialRank) {
    fail(ErrorKind::kUnsupported, "{}: {} spatial dims; the reference kernel handles up to {}",
         node.describe(), p.spatial_rank(), ref::kMaxSpatialRank);
  }
  ref::ConvGeometry g;
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = out_channels;
  g.group = p.group;
  g.in_size.assign(x.begin() + 2, x.end());
  g.out_size = std::move(out_size);
  g.kernel = p.kernel;
  g.strides = p.strides;
  g.dilations = p.dilations;
  g.pads_begin = p.pads_begin;
  return g;
}

struct SymbolicInputs {
  SymbolicShape x, w;
  std::optional<SymbolicShape> b;
  SymbolicInputs(const Shape& x_shape, const Shape& w_shape, const Shape* b_shape)
      : x(symbolic(x_shape)), w(symbolic(w_shape)) {
    if (b_shape) b = symbolic(*b_shape);
  }
  const SymbolicShape* bias() const { return b ? &*b : nullptr; }
};

}  // namespace

ref::ConvGeometry conv_geometry(const Node& node, const Shape& x, const Shape& w, const Shape* b) {
  const SymbolicInputs s(x, w, b);
  const SymbolicShape out = *conv_output_shape(node, &s.x, &s.w, s.bias());
  const WindowParams p = parse_window(node, spatial_sizes(s.x), spatial_sizes(s.w));
  return make_geometry(node, x, w[0], p, spatial_sizes(out));
}

ref::ConvGeometry conv_transpose_geometry(const Node& node, const Shape& x, const Shape& w,
                                          const Shape* b) {
  const SymbolicInputs s(x, w, b);
  conv_transpose_output_shape(node, &s.x, &s.w, s.bias());
  WindowParams p = parse_window(node, spatial_sizes(s.x), spatial_sizes(s.w));
  std::vector<int64_t> out_size = conv_transpose_sizes(node, p, spatial_sizes(s.x));
  return make_geometry(node, x, w[1] * p.group, p, std::move(out_size));
}

namespace {

void infer_conv_types(InferContext& ctx) {
  const DType type = ctx.input_type(0);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const DType other = ctx.input_type(i);
    if (type != DType::kUndefined && other != DType::kUndefined && other != type) {
      ctx.fail("input {} has element type {}, expected {} like X", i, dtype_name(other),
               dtype_name(type));
    }
  }
  ctx.set_output_type(0, type);
}

const SymbolicShape* bias_shape(InferContext& ctx) {
  return ctx.has_input(2) ? ctx.input_shape(2) : nullptr;
}

void infer_conv(InferContext& ctx) {
  infer_conv_types(ctx);
  auto out = conv_output_shape(ctx.node(), ctx.input_shape(0), ctx.input_shape(1), bias_shape(ctx));
  if (out) ctx.output(0).shape = std::move(out);
}

void infer_conv_transpose(InferContext& ctx) {
  infer_conv_types(ctx);
  auto out = conv_transpose_output_shape(ctx.node(), ctx.input_shape(0), ctx.input_shape(1),
                                         bias_shape(ctx));
  if (out) ctx.output(0).shape = std::move(out);
}

template <class T>
std::unique_ptr<Kernel> make_conv(ref::ConvGeometry g, bool has_bias) {
  return ref::make_kernel([g = std::move(g), has_bias](const KernelArgs& a) {
    ref::conv<T>(g, ref::in<T>(a, 0), ref::in<T>(a, 1), has_bias ? ref::in<T>(a, 2) : nullptr,
                 ref::out<T>(a, 0));
  });
}

template <class T>
std::unique_ptr<Kernel> make_conv_transpose(ref::ConvGeometry g, bool has_bias) {
  return ref::make_kernel([g = std::move(g), has_bias](const KernelArgs& a) {
    ref::conv_transpose<T>(g, ref::in<T>(a, 0), ref::in<T>(a, 1),
                           has_bias ? ref::in<T>(a, 2) : nullptr, ref::out<T>(a, 0));
  });
}

void check_kernel_types(const KernelContext& ctx) {
  const DType type = ctx.input(0).dtype;
  if (type != DType::kFloat32 && type != DType::kFloat64) {
    ctx.fail(ErrorKind::kUnsupported, "the reference kernel supports float and double, got {}",
             dtype_name(type));
  }
  for (size_t i = 1; i < ctx.inputs.size(); ++i) {
    if (ctx.has_input(i) && ctx.inputs[i].dtype != type) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} has element type {}, expected {} like X", i,
               dtype_name(ctx.inputs[i].dtype), dtype_name(type));
    }
  }
}

std::unique_ptr<Kernel> ref_conv(KernelContext& ctx) {
  check_kernel_types(ctx);
  const bool has_bias = ctx.has_input(2);
  ref::ConvGeometry g = conv_geometry(ctx.node, ctx.input(0).shape, ctx.input(1).shape,
                                      has_bias ? &ctx.inputs[2].shape : nullptr);
  check_planned_output(ctx, 0, {g.batch, g.out_channels}, g.out_size);
  if (ctx.input(0).dtype == DType::kFloat64) return make_conv<double>(std::move(g), has_bias);
  return make_conv<float>(std::move(g), has_bias);
}

std::unique_ptr<Kernel> ref_conv_transpose(KernelContext& ctx) {
  check_kernel_types(ctx);
  const bool has_bias = ctx.has_input(2);
  ref::ConvGeometry g = conv_transpose_geometry(ctx.node, ctx.input(0).shape, ctx.input(1).shape,
                                                has_bias ? &ctx.inputs[2].shape : nullptr);
  check_planned_output(ctx, 0, {g.batch, g.out_channels}, g.out_size);
  if (ctx.input(0).dtype == DType::kFloat64) {
    return make_conv_transpose<double>(std::move(g), has_bias);
  }
  return make_conv_transpose<float>(std::move(g), has_bias);
}

}  // namespace

void register_conv_ops(OpRegistry& r) {
  r.add({"", "Conv", 1, infer_conv, ref_conv, {}});
  r.add({"", "ConvTranspose", 1, infer_conv_transpose, ref_conv_transpose, {}});
}

}  // namespace quench

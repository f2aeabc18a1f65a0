// Slice and Pad. Their parameters are usually constants, but ONNX lets them be computed at run
// time; then the output shape comes from the declared one and the kernels read the parameters
// in run() and check them against it.
#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/check.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench::shape_ops {
namespace {

DType input_type_or_none(const KernelContext& ctx, size_t i) {
  return ctx.has_input(i) ? ctx.inputs[i].dtype : DType::kUndefined;
}

// ---- Slice ----

// One axis of a slice after clamping: the first index read, how many are read, the step.
struct AxisSlice {
  int64_t start = 0;
  int64_t count = 0;
  int64_t step = 1;
};

// The clamping rules of Slice-13: negative starts/ends count from the end; starts clamp into
// [0, dim] ([0, dim-1] stepping backwards), ends into [0, dim] ([-1, dim-1] backwards).
AxisSlice slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step) {
  if (dim == 0) return {0, 0, step};
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  AxisSlice s;
  s.step = step;
  if (step > 0) {
    s.start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    // (end - start - 1) / step + 1 is ceil((end - start) / step) without overflow.
    s.count = end > s.start ? (end - s.start - 1) / step + 1 : 0;
  } else {
    s.start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    const int64_t stride = step == INT64_MIN ? INT64_MAX : -step;
    s.count = s.start > end ? (s.start - end - 1) / stride + 1 : 0;
  }
  return s;
}

struct SliceSpec {
  std::vector<int64_t> starts, ends, axes, steps;
};

// Slice's parameters: attributes before opset 10, inputs 1-4 from opset 10; nullopt when an input
// is known only at run time. Defaults are filled in (axes 0..n-1, steps 1).
template <class Ctx>
std::optional<SliceSpec> slice_spec(const Ctx& ctx, const Node& node, int64_t opset) {
  SliceSpec spec;
  bool has_axes = false, has_steps = false;
  if (opset < 10) {
    spec.starts = node.require_ints("starts");
    spec.ends = node.require_ints("ends");
    has_axes = node.has_attr("axes");
    if (has_axes) spec.axes = node.attr_ints("axes");
  } else {
    auto starts = constant_ints(ctx, 1), ends = constant_ints(ctx, 2);
    if (!starts || !ends) return std::nullopt;
    spec.starts = std::move(*starts);
    spec.ends = std::move(*ends);
    for (size_t i : {3, 4}) {
      if (!ctx.has_input(i)) continue;
      auto values = constant_ints(ctx, i);
      if (!values) return std::nullopt;
      (i == 3 ? spec.axes : spec.steps) = std::move(*values);
      (i == 3 ? has_axes : has_steps) = true;
    }
  }
  if (!has_axes) {
    spec.axes.resize(spec.starts.size());
    std::iota(spec.axes.begin(), spec.axes.end(), 0);
  }
  if (!has_steps) spec.steps.assign(spec.starts.size(), 1);
  return spec;
}

// Checks the lengths, normalizes the axes, rejects repeated axes and zero steps.
void check_slice_spec(SliceSpec& spec, int64_t rank, const Node& node) {
  const size_t n = spec.starts.size();
  QUENCH_CHECK(spec.ends.size() == n && spec.axes.size() == n && spec.steps.size() == n,
               ErrorKind::kInvalidModel,
               "{}: starts, ends, axes and steps must have one length; got {}, {}, {}, {}",
               node.describe(), n, spec.ends.size(), spec.axes.size(), spec.steps.size());
  for (int64_t& axis : spec.axes) axis = normalize_axis(axis, rank, node);
  QUENCH_CHECK(!has_duplicates(spec.axes), ErrorKind::kInvalidModel,
               "{}: axes {} name an axis twice", node.describe(), shape_str(spec.axes));
  for (int64_t step : spec.steps) {
    QUENCH_CHECK(step != 0, ErrorKind::kInvalidModel, "{}: steps {} contain 0", node.describe(),
                 shape_str(spec.steps));
  }
}

void infer_slice(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  const int64_t rank = static_cast<int64_t>(s->size());
  auto spec = slice_spec(ctx, ctx.node(), ctx.opset());
  if (!spec) {
    // Known axes leave the other dims as they are.
    auto axes = ctx.has_input(3) ? constant_ints(ctx, 3) : std::nullopt;
    SymbolicShape out = axes ? *s : unknown_dims(rank);
    if (axes) {
      for (int64_t axis : *axes) out[normalize_axis(axis, rank, ctx.node())] = Dim();
    }
    ctx.output(0).shape = std::move(out);
    return;
  }
  check_slice_spec(*spec, rank, ctx.node());
  SymbolicShape out = *s;
  for (size_t k = 0; k < spec->axes.size(); ++k) {
    Dim& d = out[spec->axes[k]];
    if (d.known()) {
      d = Dim(slice_axis(d.value, spec->starts[k], spec->ends[k], spec->steps[k]).count);
    } else if (!(spec->starts[k] == 0 && spec->ends[k] == INT64_MAX && spec->steps[k] == 1)) {
      d = Dim();  // a slice to the end with step 1 keeps the dim, whatever its size
    }
  }
  ctx.output(0).shape = std::move(out);
}

// Slice parameters read in run(): the kernel resolves them into scratch and checks the result
// against the planned output shape before copying.
template <class T>
std::unique_ptr<Kernel> runtime_slice_kernel(KernelContext& ctx) {
  const Shape in = ctx.input(0).shape;
  const Shape out = ctx.outputs[0].shape;
  const Shape in_strides = strides_of(in);
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t count = ctx.input(1).numel();
  for (size_t i : {2, 3, 4}) {
    if (ctx.has_input(i) && ctx.inputs[i].numel() != count) {
      ctx.fail(ErrorKind::kInvalidModel, "starts has {} values but input {} has {}", count, i,
               ctx.inputs[i].numel());
    }
  }
  const DType starts_type = ctx.input(1).dtype, ends_type = ctx.input(2).dtype;
  const DType axes_type = input_type_or_none(ctx, 3), steps_type = input_type_or_none(ctx, 4);
  const int64_t out_count = shape_numel(out);
  const std::string where = ctx.node.describe();
  auto run = [=](const KernelArgs& a) {
    int64_t* start = static_cast<int64_t*>(a.scratch);
    int64_t* stride = start + rank;
    int64_t* sliced = stride + rank;
    std::fill(start, start + rank, 0);
    std::fill(stride, stride + rank, 1);
    std::fill(sliced, sliced + rank, 0);
    for (int64_t k = 0; k < count; ++k) {
      int64_t axis = axes_type == DType::kUndefined ? k : load_int(a.inputs[3], axes_type, k);
      if (axis < -rank || axis >= rank || sliced[axis < 0 ? axis + rank : axis]) {
        fail(ErrorKind::kInvalidArgument, "{}: axis {} is out of range for rank {} or repeated",
             where, axis, rank);
      }
      if (axis < 0) axis += rank;
      const int64_t step =
          steps_type == DType::kUndefined ? 1 : load_int(a.inputs[4], steps_type, k);
      if (step == 0) fail(ErrorKind::kInvalidArgument, "{}: step {} is 0", where, k);
      const AxisSlice s = slice_axis(in[axis], load_int(a.inputs[1], starts_type, k),
                                     load_int(a.inputs[2], ends_type, k), step);
      if (s.count != out[axis]) {
        fail(ErrorKind::kInvalidArgument,
             "{}: the slice gives {} elements on axis {}, but the output was planned with {}",
             where, s.count, axis, out[axis]);
      }
      start[axis] = s.start;
      stride[axis] = s.step;
      sliced[axis] = 1;
    }
    int64_t offset = 0;
    for (int64_t d = 0; d < rank; ++d) {
      if (!sliced[d] && in[d] != out[d]) {
        fail(ErrorKind::kInvalidArgument, "{}: axis {} is not sliced but the output has {} not {}",
             where, d, out[d], in[d]);
      }
      offset += start[d] * in_strides[d];
      stride[d] *= in_strides[d];
    }
    if (out_count == 0) return;
    ref::copy_view(ref::in<T>(a, 0) + offset, ref::out<T>(a, 0), out.data(), stride,
                   static_cast<int>(rank));
  };
  return ref::make_kernel(run, 3 * rank * sizeof(int64_t));
}

std::unique_ptr<Kernel> ref_slice(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const size_t bytes = element_bytes(ctx, x.dtype);
  auto spec = slice_spec(ctx, ctx.node, ctx.opset);
  if (!spec) {
    std::unique_ptr<Kernel> kernel;
    ref::with_element_type(bytes, [&]<class T>() { kernel = runtime_slice_kernel<T>(ctx); });
    return kernel;
  }
  check_slice_spec(*spec, x.rank(), ctx.node);
  const Shape in_strides = strides_of(x.shape);
  ref::StridedView view{0, x.shape, in_strides};
  for (size_t k = 0; k < spec->axes.size(); ++k) {
    const int64_t axis = spec->axes[k];
    const AxisSlice s = slice_axis(x.shape[axis], spec->starts[k], spec->ends[k], spec->steps[k]);
    view.offset += s.start * in_strides[axis];
    view.shape[axis] = s.count;
    view.strides[axis] = s.step * in_strides[axis];
  }
  if (view.shape != ctx.outputs[0].shape) {
    ctx.fail(ErrorKind::kInvalidModel, "the slice has shape {}, but the output is planned as {}",
             shape_str(view.shape), shape_str(ctx.outputs[0].shape));
  }
  return ref::make_view_kernel(bytes, std::move(view));
}

// ---- Pad ----

enum class PadMode { kConstant, kReflect, kEdge };

PadMode pad_mode(const Node& node) {
  const std::string mode = node.attr_string("mode", "constant");
  if (mode == "constant") return PadMode::kConstant;
  if (mode == "reflect") return PadMode::kReflect;
  if (mode == "edge") return PadMode::kEdge;
  fail(ErrorKind::kInvalidModel, "{}: mode must be constant, reflect or edge, got '{}'",
       node.describe(), mode);
}

// Pad amounts [begin_0, ..., begin_r-1, end_0, ..., end_r-1]: the attribute before opset 11, the
// int64 input 1 from opset 11 (nullopt when known only at run time).
template <class Ctx>
std::optional<std::vector<int64_t>> pad_amounts(const Ctx& ctx, const Node& node, int64_t opset) {
  if (opset < 11) return node.require_ints("pads");
  ctx.input(1);  // required
  return constant_ints(ctx, 1);
}

// The output size of one axis, or why there is none.
std::optional<std::string> pad_axis_error(int64_t dim, int64_t begin, int64_t end, PadMode mode) {
  if (dim + begin + end < 0) {
    return fmt::format("pads {} and {} remove more than the {} elements", begin, end, dim);
  }
  if (mode != PadMode::kConstant && dim == 0 && (begin > 0 || end > 0)) {
    return std::string("reflect and edge padding need a non-empty axis");
  }
  return std::nullopt;
}

void infer_pad(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  const PadMode mode = pad_mode(ctx.node());
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  const size_t rank = s->size();
  auto pads = pad_amounts(ctx, ctx.node(), ctx.opset());
  if (!pads) {
    ctx.output(0).shape = unknown_dims(rank);
    return;
  }
  if (pads->size() != 2 * rank) {
    ctx.fail("pads {} must have 2 values per dimension of {}", shape_str(*pads), shape_str(*s));
  }
  SymbolicShape out;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t begin = (*pads)[d], end = (*pads)[rank + d];
    const Dim& dim = (*s)[d];
    if (!dim.known()) {
      out.push_back(begin + end == 0 ? dim : Dim());
      continue;
    }
    if (auto error = pad_axis_error(dim.value, begin, end, mode)) {
      ctx.fail("axis {} of {}: {}", d, shape_str(*s), *error);
    }
    out.push_back(Dim(dim.value + begin + end));
  }
  ctx.output(0).shape = std::move(out);
}

// The input index an output position maps to (`i` = position - begin pad), or -1 for the fill.
int64_t pad_source(int64_t i, int64_t dim, PadMode mode) {
  if (i >= 0 && i < dim) return i;
  switch (mode) {
    case PadMode::kConstant:
      return -1;
    case PadMode::kEdge:
      return i < 0 ? 0 : dim - 1;
    case PadMode::kReflect: {
      if (dim == 1) return 0;
      // Reflection repeats with period 2 (dim - 1), as numpy.pad does for wide pads.
      const int64_t period = 2 * (dim - 1);
      const int64_t m = ((i % period) + period) % period;
      return m < dim ? m : period - m;
    }
  }
  return -1;
}

// Writes the padded output: walks output dims, mapping each position to its input position.
template <class T>
struct PadWalk {
  const T* in;
  const int64_t* in_shape;
  const int64_t* in_strides;
  const int64_t* out_shape;
  const int64_t* out_block;  // elements of the output under one index of each dim
  const int64_t* begins;
  int rank;
  PadMode mode;
  T fill;

  T* walk(int d, int64_t in_offset, T* y) const {
    if (d == rank) {
      *y = in[in_offset];
      return y + 1;
    }
    for (int64_t o = 0; o < out_shape[d]; ++o) {
      const int64_t i = pad_source(o - begins[d], in_shape[d], mode);
      if (i < 0) {
        std::fill(y, y + out_block[d], fill);
        y += out_block[d];
      } else {
        y = walk(d + 1, in_offset + i * in_strides[d], y);
      }
    }
    return y;
  }
};

template <class T>
std::unique_ptr<Kernel> pad_kernel(KernelContext& ctx, PadMode mode,
                                   std::optional<std::vector<int64_t>> pads) {
  const Shape in = ctx.input(0).shape;
  const Shape out = ctx.outputs[0].shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  const Shape in_strides = strides_of(in);
  const Shape out_block = strides_of(out);
  if (pads) {
    if (static_cast<int64_t>(pads->size()) != 2 * rank) {
      ctx.fail(ErrorKind::kInvalidModel, "pads {} must have 2 values per dimension of {}",
               shape_str(*pads), shape_str(in));
    }
    for (int64_t d = 0; d < rank; ++d) {
      const int64_t begin = (*pads)[d], end = (*pads)[rank + d];
      if (auto error = pad_axis_error(in[d], begin, end, mode)) {
        ctx.fail(ErrorKind::kInvalidModel, "axis {} of {}: {}", d, shape_str(in), *error);
      }
      if (in[d] + begin + end != out[d]) {
        ctx.fail(ErrorKind::kInvalidModel, "pads {} do not turn {} into the planned {}",
                 shape_str(*pads), shape_str(in), shape_str(out));
      }
    }
  } else if (ctx.input(1).dtype != DType::kInt64 || ctx.input(1).numel() != 2 * rank) {
    ctx.fail(ErrorKind::kInvalidModel, "pads must be int64 with 2 values per dimension of {}",
             shape_str(in));
  }

  // The fill: the 'value' attribute before opset 11, else input 2 (0 when absent).
  T fill{};
  bool fill_at_run_time = false;
  if (ctx.opset < 11) {
    const Tensor v = scalar_of_type(ctx.node.attr_float("value", 0.f), ctx.input(0).dtype);
    std::memcpy(&fill, v.raw_data(), sizeof(T));
  } else if (ctx.has_input(2)) {
    const TensorDesc& v = ctx.inputs[2];
    if (v.dtype != ctx.input(0).dtype || v.numel() != 1) {
      ctx.fail(ErrorKind::kInvalidModel, "constant_value must be one {}, got {} of shape {}",
               dtype_name(ctx.input(0).dtype), dtype_name(v.dtype), shape_str(v.shape));
    }
    if (v.constant != nullptr) {
      std::memcpy(&fill, v.constant->raw_data(), sizeof(T));
    } else {
      fill_at_run_time = true;
    }
  }
  const std::vector<int64_t> begins =
      pads ? std::vector<int64_t>(pads->begin(), pads->begin() + rank) : std::vector<int64_t>();
  const int64_t out_count = shape_numel(out);
  const std::string where = ctx.node.describe();
  auto run = [=](const KernelArgs& a) {
    const int64_t* begin = pads ? begins.data() : ref::in<int64_t>(a, 1);
    if (!pads) {
      for (int64_t d = 0; d < rank; ++d) {
        const int64_t end = begin[rank + d];
        if (in[d] + begin[d] + end != out[d] || pad_axis_error(in[d], begin[d], end, mode)) {
          fail(ErrorKind::kInvalidArgument,
               "{}: pads {} and {} on axis {} of {} do not give the planned output {}", where,
               begin[d], end, d, shape_str(in), shape_str(out));
        }
      }
    }
    if (out_count == 0) return;
    const PadWalk<T> walk{ref::in<T>(a, 0),
                          in.data(),
                          in_strides.data(),
                          out.data(),
                          out_block.data(),
                          begin,
                          static_cast<int>(rank),
                          mode,
                          fill_at_run_time ? *ref::in<T>(a, 2) : fill};
    walk.walk(0, 0, ref::out<T>(a, 0));
  };
  return ref::make_kernel(run);
}

std::unique_ptr<Kernel> ref_pad(KernelContext& ctx) {
  const PadMode mode = pad_mode(ctx.node);
  auto pads = pad_amounts(ctx, ctx.node, ctx.opset);
  std::unique_ptr<Kernel> kernel;
  ref::with_element_type(element_bytes(ctx, ctx.input(0).dtype),
                         [&]<class T>() { kernel = pad_kernel<T>(ctx, mode, pads); });
  return kernel;
}

}  // namespace

void register_slice_ops(OpRegistry& r) {
  r.add({"", "Slice", 1, infer_slice, ref_slice, {}});
  r.add({"", "Pad", 2, infer_pad, ref_pad, {}});
}

}  // namespace quench::shape_ops

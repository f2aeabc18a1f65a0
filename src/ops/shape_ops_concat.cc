// Concat and Split: contiguous blocks along one axis, copied with memcpy.
#include <cstring>

#include "core/check.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench::shape_ops {
namespace {

// Elements of `shape` before and after `axis`.
std::pair<int64_t, int64_t> outer_inner(const Shape& shape, int64_t axis) {
  const std::span<const int64_t> dims(shape);
  return {shape_numel(dims.first(axis)), shape_numel(dims.subspan(axis + 1))};
}

// ---- Concat ----

void infer_concat(InferContext& ctx) {
  const int64_t axis_attr = ctx.node().require_int("axis");
  DType dtype = DType::kUndefined;
  const SymbolicShape* first = nullptr;
  size_t first_index = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const DType t = ctx.input_type(i);
    if (t != DType::kUndefined && dtype != DType::kUndefined && t != dtype) {
      ctx.fail("inputs have different element types: {} and {}", dtype_name(dtype), dtype_name(t));
    }
    if (t != DType::kUndefined) dtype = t;
    const SymbolicShape* s = ctx.input_shape(i);
    if (s == nullptr) continue;
    if (first == nullptr) {
      first = s;
      first_index = i;
    } else if (s->size() != first->size()) {
      ctx.fail("input {} has shape {} but input {} has shape {}: the ranks differ", i,
               shape_str(*s), first_index, shape_str(*first));
    }
  }
  ctx.set_output_type(0, dtype);
  if (ctx.num_inputs() == 0) ctx.fail("needs at least one input");
  if (first == nullptr) return;
  const int64_t axis = normalize_axis(axis_attr, static_cast<int64_t>(first->size()), ctx.node());
  SymbolicShape out = *first;
  bool axis_known = true;
  int64_t axis_sum = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const SymbolicShape* s = ctx.input_shape(i);
    if (s == nullptr) {
      axis_known = false;
      continue;
    }
    for (size_t d = 0; d < s->size(); ++d) {
      const Dim& got = (*s)[d];
      if (static_cast<int64_t>(d) == axis) {
        axis_known = axis_known && got.known();
        if (got.known()) axis_sum += got.value;
      } else if (out[d].known() && got.known() && out[d].value != got.value) {
        ctx.fail("input {} has shape {} but input {} has shape {}: dimension {} differs", i,
                 shape_str(*s), first_index, shape_str(*first), d);
      } else if (!out[d].known() && got.known()) {
        out[d] = got;
      }
    }
  }
  if (ctx.num_inputs() > 1) out[axis] = axis_known ? Dim(axis_sum) : Dim();
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_concat(KernelContext& ctx) {
  const Shape& out = ctx.outputs[0].shape;
  const int64_t rank = static_cast<int64_t>(out.size());
  const int64_t axis = normalize_axis(ctx.node.require_int("axis"), rank, ctx.node);
  const size_t bytes = element_bytes(ctx, ctx.outputs[0].dtype);
  const auto [outer, inner] = outer_inner(out, axis);
  std::vector<size_t> block_bytes;  // bytes each input adds per outer index
  int64_t axis_sum = 0;
  for (size_t i = 0; i < ctx.inputs.size(); ++i) {
    const Shape& in = ctx.input(i).shape;
    bool fits = in.size() == out.size();
    for (int64_t d = 0; fits && d < rank; ++d) fits = d == axis || in[d] == out[d];
    if (!fits) {
      ctx.fail(ErrorKind::kInvalidModel, "input {} has shape {}, which does not fit output {}", i,
               shape_str(in), shape_str(out));
    }
    axis_sum += in[axis];
    block_bytes.push_back(static_cast<size_t>(in[axis] * inner) * bytes);
  }
  if (axis_sum != out[axis]) {
    ctx.fail(ErrorKind::kInvalidModel, "inputs add up to {} on axis {}, the output has {}",
             axis_sum, axis, out[axis]);
  }
  return ref::make_kernel([outer = outer, block_bytes](const KernelArgs& a) {
    char* y = static_cast<char*>(a.outputs[0]);
    for (int64_t o = 0; o < outer; ++o) {
      for (size_t i = 0; i < block_bytes.size(); ++i) {
        const size_t block = block_bytes[i];
        if (block == 0) continue;
        std::memcpy(y, static_cast<const char*>(a.inputs[i]) + o * block, block);
        y += block;
      }
    }
  });
}

// ---- Split ----

// The part sizes when known before running: the 'split' attribute before opset 13, the constant
// input 1 from opset 13, or equal parts when neither is given (then the axis must divide evenly:
// the uneven last part arrives only in opset 18).
template <class Ctx>
std::optional<std::vector<int64_t>> split_sizes(const Ctx& ctx, const Node& node, int64_t opset,
                                                const Dim& dim, size_t parts) {
  std::optional<std::vector<int64_t>> sizes;
  if (opset < 13) {
    if (node.has_attr("split")) sizes = node.attr_ints("split");
  } else if (ctx.has_input(1)) {
    sizes = constant_ints(ctx, 1);
    if (!sizes) return std::nullopt;
  }
  if (sizes) {
    int64_t sum = 0;
    for (int64_t s : *sizes) {
      QUENCH_CHECK(s >= 0, ErrorKind::kInvalidModel, "{}: split {} has a negative size",
                   node.describe(), shape_str(*sizes));
      sum += s;
    }
    QUENCH_CHECK(sizes->size() == parts, ErrorKind::kInvalidModel,
                 "{}: split {} has {} sizes for {} outputs", node.describe(), shape_str(*sizes),
                 sizes->size(), parts);
    QUENCH_CHECK(!dim.known() || sum == dim.value, ErrorKind::kInvalidModel,
                 "{}: split {} adds up to {}, but the axis has {}", node.describe(),
                 shape_str(*sizes), sum, dim.value);
    return sizes;
  }
  if (!dim.known()) return std::nullopt;
  QUENCH_CHECK(dim.value % static_cast<int64_t>(parts) == 0, ErrorKind::kInvalidModel,
               "{}: an axis of {} does not split into {} equal parts", node.describe(), dim.value,
               parts);
  return std::vector<int64_t>(parts, dim.value / static_cast<int64_t>(parts));
}

void infer_split(InferContext& ctx) {
  const size_t parts = ctx.num_outputs();
  for (size_t k = 0; k < parts; ++k) ctx.set_output_type(k, ctx.input_type(0));
  const SymbolicShape* s = ctx.input_shape(0);
  if (s == nullptr) return;
  const int64_t axis =
      normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(s->size()), ctx.node());
  auto sizes = split_sizes(ctx, ctx.node(), ctx.opset(), (*s)[axis], parts);
  for (size_t k = 0; k < parts; ++k) {
    SymbolicShape out = *s;
    out[axis] = sizes ? Dim((*sizes)[k]) : parts == 1 ? (*s)[axis] : Dim();
    ctx.output(k).shape = std::move(out);
  }
}

std::unique_ptr<Kernel> ref_split(KernelContext& ctx) {
  const Shape& in = ctx.input(0).shape;
  const int64_t rank = static_cast<int64_t>(in.size());
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), rank, ctx.node);
  const size_t bytes = element_bytes(ctx, ctx.input(0).dtype);
  const size_t parts = ctx.outputs.size();
  // Sizes given only at run time are those of the planned outputs.
  std::vector<int64_t> sizes;
  if (auto known = split_sizes(ctx, ctx.node, ctx.opset, Dim(in[axis]), parts)) {
    sizes = *known;
  } else {
    for (const TensorDesc& out : ctx.outputs) {
      if (!out.present() || out.rank() != rank) {
        ctx.fail(ErrorKind::kUnsupported, "split sizes known only at run time need every output");
      }
      sizes.push_back(out.shape[axis]);
    }
  }
  int64_t sum = 0;
  for (size_t k = 0; k < parts; ++k) {
    Shape expected = in;
    expected[axis] = sizes[k];
    sum += sizes[k];
    if (ctx.outputs[k].present() && ctx.outputs[k].shape != expected) {
      ctx.fail(ErrorKind::kInvalidModel, "output {} is planned as {}, but the split gives {}", k,
               shape_str(ctx.outputs[k].shape), shape_str(expected));
    }
  }
  if (sum != in[axis]) {
    ctx.fail(ErrorKind::kInvalidModel, "the outputs add up to {} on axis {} of input {}", sum, axis,
             shape_str(in));
  }
  const auto [outer, inner] = outer_inner(in, axis);
  const size_t in_block = static_cast<size_t>(in[axis] * inner) * bytes;
  std::vector<size_t> block_bytes;  // bytes of each output per outer index
  for (int64_t size : sizes) block_bytes.push_back(static_cast<size_t>(size * inner) * bytes);
  return ref::make_kernel([outer = outer, in_block, block_bytes](const KernelArgs& a) {
    for (int64_t o = 0; o < outer; ++o) {
      const char* x = static_cast<const char*>(a.inputs[0]) + o * in_block;
      for (size_t k = 0; k < block_bytes.size(); ++k) {
        const size_t block = block_bytes[k];
        if (a.outputs[k] != nullptr && block != 0) {
          std::memcpy(static_cast<char*>(a.outputs[k]) + o * block, x, block);
        }
        x += block;
      }
    }
  });
}

}  // namespace

void register_concat_ops(OpRegistry& r) {
  r.add({"", "Concat", 4, infer_concat, ref_concat, {}});
  r.add({"", "Split", 2, infer_split, ref_split, {}});
}

}  // namespace quench::shape_ops

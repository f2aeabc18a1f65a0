// Gather and GatherElements: data picked by int32 or int64 indices (negative ones count from the
// end). Indices may arrive at run time, so the kernels check each one and fail with an Error.
#include <cstring>

#include "core/check.h"
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "kernels/ref/shape_ops_copy.h"
#include "ops/op_registry.h"
#include "ops/shape_ops.h"

namespace quench::shape_ops {
namespace {

void check_index_type(const InferContext& ctx, size_t i) {
  const DType t = ctx.input_type(i);
  if (t != DType::kUndefined && t != DType::kInt32 && t != DType::kInt64) {
    ctx.fail("indices must be int32 or int64, got {}", dtype_name(t));
  }
}

// Calls fn.template operator()<Index>() with the indices' C++ type.
template <class Fn>
void with_index_type(const KernelContext& ctx, DType t, Fn&& fn) {
  if (t == DType::kInt32) {
    fn.template operator()<int32_t>();
  } else if (t == DType::kInt64) {
    fn.template operator()<int64_t>();
  } else {
    ctx.fail(ErrorKind::kInvalidModel, "indices must be int32 or int64, got {}", dtype_name(t));
  }
}

// The index with negative values counted from the end; an Error when outside [-dim, dim).
inline int64_t resolve_index(int64_t index, int64_t dim, const std::string& where) {
  if (index < -dim || index >= dim) {
    fail(ErrorKind::kInvalidArgument, "{}: index {} is out of range for an axis of size {}", where,
         index, dim);
  }
  return index < 0 ? index + dim : index;
}

// ---- Gather: output = data[:axis] + indices.shape + data[axis+1:] ----

void infer_gather(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  check_index_type(ctx, 1);
  const SymbolicShape* data = ctx.input_shape(0);
  const SymbolicShape* indices = ctx.input_shape(1);
  if (data == nullptr || indices == nullptr) return;
  const int64_t axis = normalize_axis(ctx.node().attr_int("axis", 0),
                                      static_cast<int64_t>(data->size()), ctx.node());
  const Dim& dim = (*data)[axis];
  if (auto values = constant_ints(ctx, 1); values && dim.known()) {
    for (int64_t v : *values) {
      if (v < -dim.value || v >= dim.value) {
        ctx.fail("index {} is out of range for axis {} of {}", v, axis, shape_str(*data));
      }
    }
  }
  SymbolicShape out(data->begin(), data->begin() + axis);
  out.insert(out.end(), indices->begin(), indices->end());
  out.insert(out.end(), data->begin() + axis + 1, data->end());
  ctx.output(0).shape = std::move(out);
}

std::unique_ptr<Kernel> ref_gather(KernelContext& ctx) {
  const Shape& data = ctx.input(0).shape;
  const int64_t axis =
      normalize_axis(ctx.node.attr_int("axis", 0), static_cast<int64_t>(data.size()), ctx.node);
  const size_t bytes = element_bytes(ctx, ctx.input(0).dtype);
  const std::span<const int64_t> dims(data);
  const int64_t outer = shape_numel(dims.first(axis));
  const int64_t axis_dim = data[axis];
  const size_t block = static_cast<size_t>(shape_numel(dims.subspan(axis + 1))) * bytes;
  const int64_t count = ctx.input(1).numel();
  const std::string where = ctx.node.describe();
  std::unique_ptr<Kernel> kernel;
  with_index_type(ctx, ctx.input(1).dtype, [&]<class Index>() {
    kernel = ref::make_kernel([=](const KernelArgs& a) {
      const char* x = static_cast<const char*>(a.inputs[0]);
      const Index* indices = ref::in<Index>(a, 1);
      char* y = static_cast<char*>(a.outputs[0]);
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t j = 0; j < count; ++j) {
          const int64_t index = resolve_index(indices[j], axis_dim, where);
          if (block != 0) std::memcpy(y, x + (o * axis_dim + index) * block, block);
          y += block;
        }
      }
    });
  });
  return kernel;
}

// ---- GatherElements: output[i] = data[i with i[axis] replaced by indices[i]] ----

void infer_gather_elements(InferContext& ctx) {
  ctx.set_output_type(0, ctx.input_type(0));
  check_index_type(ctx, 1);
  const SymbolicShape* data = ctx.input_shape(0);
  const SymbolicShape* indices = ctx.input_shape(1);
  if (indices == nullptr) return;
  if (data != nullptr) {
    if (data->size() != indices->size() || data->empty()) {
      ctx.fail("data {} and indices {} must have one rank of at least 1", shape_str(*data),
               shape_str(*indices));
    }
    normalize_axis(ctx.node().attr_int("axis", 0), static_cast<int64_t>(data->size()), ctx.node());
  }
  ctx.output(0).shape = *indices;
}

template <class T, class Index>
struct GatherElementsWalk {
  const T* data;
  const Index* indices;
  T* out;
  const int64_t* index_shape;
  const int64_t* data_strides;
  int rank;
  int axis;
  int64_t axis_dim;
  const std::string& where;

  // Visits the output in row-major order; `data_offset` sums the dims other than the axis.
  void walk(int d, int64_t data_offset, int64_t& j) const {
    if (d == rank) {
      const int64_t index = resolve_index(indices[j], axis_dim, where);
      out[j] = data[data_offset + index * data_strides[axis]];
      ++j;
      return;
    }
    const int64_t stride = d == axis ? 0 : data_strides[d];
    for (int64_t i = 0; i < index_shape[d]; ++i) walk(d + 1, data_offset + i * stride, j);
  }
};

std::unique_ptr<Kernel> ref_gather_elements(KernelContext& ctx) {
  const Shape& data = ctx.input(0).shape;
  const Shape& indices = ctx.input(1).shape;
  const int rank = static_cast<int>(data.size());
  const int axis = static_cast<int>(normalize_axis(ctx.node.attr_int("axis", 0), rank, ctx.node));
  bool fits = indices.size() == data.size();
  for (int d = 0; fits && d < rank; ++d) fits = d == axis || indices[d] <= data[d];
  if (!fits || rank == 0) {
    ctx.fail(ErrorKind::kInvalidModel,
             "indices {} must have the rank of data {} and no larger dims off the axis",
             shape_str(indices), shape_str(data));
  }
  const Shape data_strides = strides_of(data);
  const int64_t axis_dim = data[axis];
  const int64_t count = shape_numel(indices);
  const std::string where = ctx.node.describe();
  std::unique_ptr<Kernel> kernel;
  ref::with_element_type(element_bytes(ctx, ctx.input(0).dtype), [&]<class T>() {
    with_index_type(ctx, ctx.input(1).dtype, [&]<class Index>() {
      kernel = ref::make_kernel([=](const KernelArgs& a) {
        if (count == 0) return;
        const GatherElementsWalk<T, Index> walk{ref::in<T>(a, 0),
                                                ref::in<Index>(a, 1),
                                                ref::out<T>(a, 0),
                                                indices.data(),
                                                data_strides.data(),
                                                rank,
                                                axis,
                                                axis_dim,
                                                where};
        int64_t j = 0;
        walk.walk(0, 0, j);
      });
    });
  });
  return kernel;
}

}  // namespace

void register_gather_ops(OpRegistry& r) {
  r.add({"", "Gather", 1, infer_gather, ref_gather, {}});
  r.add({"", "GatherElements", 11, infer_gather_elements, ref_gather_elements, {}});
}

}  // namespace quench::shape_ops

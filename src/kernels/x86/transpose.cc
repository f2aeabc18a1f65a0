#include "kernels/x86/transpose.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <numeric>

#include "ir/shape_util.h"
#include "kernels/ref/shape_ops_copy.h"

namespace quench::x86 {
namespace {

// Dims iterated outside the inner block; deeper simplified views are left to the reference.
constexpr size_t kMaxOuterRank = 8;
// Side of the square tiles transposed at a time: 16 input rows of up to 16 · 8 bytes stay in L1.
constexpr int64_t kTile = 16;

// The simplified view as loops. The innermost output dim (`columns`, output stride 1) and one
// more dim (`rows`) form the inner block; the other dims are `outer`, walked by an odometer.
//   run block (in_column_stride 1): rows of `columns` contiguous elements, copied whole;
//   tile block (in_row_stride 1): the input dim that is contiguous moves inward, so the block
//     out[row · out_row_stride + column] = in[row + column · in_column_stride] is a 2-D transpose.
struct TransposePlan {
  size_t outer_rank = 0;
  std::array<int64_t, kMaxOuterRank> outer_sizes{}, outer_in_strides{}, outer_out_strides{};
  int64_t outer_count = 1;
  int64_t rows = 1, columns = 1;
  int64_t in_row_stride = 0, out_row_stride = 0, in_column_stride = 1;
  bool tiles = false;
};

// Copies `bytes` bytes with fixed-size moves the compiler inlines: the runs of a transpose are
// often short (16 bytes in attention), where a call to memcpy costs more than the copy.
inline void copy_run(void* target, const void* source, size_t bytes) {
  auto* out = static_cast<char*>(target);
  const auto* in = static_cast<const char*>(source);
  if (bytes >= 16) {
    size_t offset = 0;
    for (; offset + 16 <= bytes; offset += 16) std::memcpy(out + offset, in + offset, 16);
    // The last 16 bytes again, overlapping what is already copied.
    if (offset < bytes) std::memcpy(out + bytes - 16, in + bytes - 16, 16);
  } else if (bytes >= 8) {
    std::memcpy(out, in, 8);
    std::memcpy(out + bytes - 8, in + bytes - 8, 8);
  } else if (bytes >= 4) {
    std::memcpy(out, in, 4);
    std::memcpy(out + bytes - 4, in + bytes - 4, 4);
  } else {
    for (size_t i = 0; i < bytes; ++i) out[i] = in[i];
  }
}

template <class T>
class TransposeKernel final : public Kernel {
 public:
  explicit TransposeKernel(TransposePlan plan) : plan_(plan) {}

  void run(const KernelArgs& a) const override {
    const T* x = static_cast<const T*>(a.inputs[0]);
    T* y = static_cast<T*>(a.outputs[0]);
    std::array<int64_t, kMaxOuterRank> index{};
    int64_t in_offset = 0, out_offset = 0;
    for (int64_t block = 0; block < plan_.outer_count; ++block) {
      if (plan_.tiles) {
        transpose_block(x + in_offset, y + out_offset);
      } else {
        copy_block(x + in_offset, y + out_offset);
      }
      // Odometer step over the outer dims, innermost first.
      for (size_t d = plan_.outer_rank; d-- > 0;) {
        in_offset += plan_.outer_in_strides[d];
        out_offset += plan_.outer_out_strides[d];
        if (++index[d] < plan_.outer_sizes[d]) break;
        in_offset -= plan_.outer_in_strides[d] * plan_.outer_sizes[d];
        out_offset -= plan_.outer_out_strides[d] * plan_.outer_sizes[d];
        index[d] = 0;
      }
    }
  }
  std::string impl() const override { return "x86:transpose_loop"; }

 private:
  void copy_block(const T* in, T* out) const {
    const size_t run_bytes = static_cast<size_t>(plan_.columns) * sizeof(T);
    for (int64_t row = 0; row < plan_.rows; ++row) {
      copy_run(out + row * plan_.out_row_stride, in + row * plan_.in_row_stride, run_bytes);
    }
  }

  // Tile by tile; within a tile the output is written row by row, contiguously.
  void transpose_block(const T* in, T* out) const {
    const int64_t in_column_stride = plan_.in_column_stride;
    for (int64_t row_start = 0; row_start < plan_.rows; row_start += kTile) {
      const int64_t row_end = std::min(plan_.rows, row_start + kTile);
      for (int64_t column_start = 0; column_start < plan_.columns; column_start += kTile) {
        const int64_t column_count = std::min(kTile, plan_.columns - column_start);
        for (int64_t row = row_start; row < row_end; ++row) {
          const T* source = in + row + column_start * in_column_stride;
          T* target = out + row * plan_.out_row_stride + column_start;
          for (int64_t column = 0; column < column_count; ++column) {
            target[column] = source[column * in_column_stride];
          }
        }
      }
    }
  }

  TransposePlan plan_;
};

// The perm attribute (default: dims reversed), or an empty vector when it is not a permutation of
// `rank` dims (the reference kernel reports that).
std::vector<int64_t> permutation(const Node& node, size_t rank) {
  std::vector<int64_t> reversed(rank);
  std::iota(reversed.rbegin(), reversed.rend(), 0);
  std::vector<int64_t> perm = node.attr_ints("perm", reversed);
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> identity(rank);
  std::iota(identity.begin(), identity.end(), 0);
  if (sorted != identity) return {};
  return perm;
}

// The loops for `view` (simplified: no size-1 dims, no two dims that could merge), or false when
// its outer dims exceed kMaxOuterRank.
bool plan_view(const ref::StridedView& view, TransposePlan& plan) {
  const size_t rank = view.shape.size();
  if (rank == 0) return true;  // one element: a run of one
  const Shape out_strides = strides_of(view.shape);
  const size_t column_dim = rank - 1;
  // The input's contiguous dim; a view that is not empty always has one after simplification.
  size_t contiguous_dim = column_dim;
  for (size_t d = 0; d < rank; ++d) {
    if (view.strides[d] == 1) contiguous_dim = d;
  }
  plan.tiles = contiguous_dim != column_dim;
  // A run block's rows are the dim just outside the runs.
  const size_t row_dim = plan.tiles ? contiguous_dim : (rank >= 2 ? rank - 2 : rank);
  plan.columns = view.shape[column_dim];
  plan.in_column_stride = view.strides[column_dim];
  if (row_dim < rank) {
    plan.rows = view.shape[row_dim];
    plan.in_row_stride = view.strides[row_dim];
    plan.out_row_stride = out_strides[row_dim];
  }
  for (size_t d = 0; d < rank; ++d) {
    if (d == column_dim || d == row_dim) continue;
    if (plan.outer_rank == kMaxOuterRank) return false;
    plan.outer_sizes[plan.outer_rank] = view.shape[d];
    plan.outer_in_strides[plan.outer_rank] = view.strides[d];
    plan.outer_out_strides[plan.outer_rank] = out_strides[d];
    plan.outer_count *= view.shape[d];
    ++plan.outer_rank;
  }
  return true;
}

// The kernel writing `view` of a tensor of `numel` elements; nullptr when the element size is
// not 1, 2, 4 or 8 bytes or the view is too deep.
std::unique_ptr<Kernel> make_view_transpose(DType dtype, int64_t numel, ref::StridedView view) {
  TransposePlan plan;
  if (numel == 0) {
    plan.outer_count = 0;
  } else {
    view.simplify();
    if (!plan_view(view, plan)) return nullptr;
  }
  std::unique_ptr<Kernel> kernel;
  ref::with_element_type(dtype_size(dtype),
                         [&]<class T>() { kernel = std::make_unique<TransposeKernel<T>>(plan); });
  return kernel;
}

}  // namespace

std::unique_ptr<Kernel> make_transpose(KernelContext& ctx) {
  const TensorDesc& x = ctx.input(0);
  const std::vector<int64_t> perm = permutation(ctx.node, x.shape.size());
  if (perm.size() != x.shape.size()) return nullptr;
  const Shape in_strides = strides_of(x.shape);
  ref::StridedView view;
  for (int64_t p : perm) {
    view.shape.push_back(x.shape[p]);
    view.strides.push_back(in_strides[p]);
  }
  if (dtype_size(x.dtype) == 0) {
    ctx.fail(ErrorKind::kUnsupported, "Transpose of elements of type {} (no whole-byte size)",
             dtype_name(x.dtype));
  }
  return make_view_transpose(x.dtype, x.numel(), std::move(view));
}

std::unique_ptr<Kernel> make_layout_transpose(DType dtype, const Shape& shape, const Layout& from,
                                              const Layout& to) {
  const auto from_order = stored_order(from, shape);
  const auto to_order = stored_order(to, shape);
  if (!from_order || !to_order) return nullptr;
  const Shape from_strides = PermutedLayout(shape, *from_order).strides();
  ref::StridedView view;
  for (int d : *to_order) {
    view.shape.push_back(shape[d]);
    view.strides.push_back(from_strides[d]);
  }
  return make_view_transpose(dtype, shape_numel(shape), std::move(view));
}

}  // namespace quench::x86

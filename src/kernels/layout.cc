#include "kernels/layout.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "kernels/ref/shape_ops_copy.h"

namespace quench {

PermutedLayout::PermutedLayout(Shape shape, std::vector<int> order)
    : shape_(std::move(shape)), order_(std::move(order)) {
  std::vector<int> sorted = order_;
  std::sort(sorted.begin(), sorted.end());
  QUENCH_CHECK(sorted.size() == shape_.size() &&
                   std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end() &&
                   (sorted.empty() ||
                    (sorted.front() == 0 && sorted.back() == static_cast<int>(sorted.size()) - 1)),
               ErrorKind::kInternal, "a layout order must permute the {} dims", shape_.size());
}

Shape PermutedLayout::strides() const {
  Shape strides(shape_.size(), 1);
  int64_t step = 1;
  for (size_t i = order_.size(); i-- > 0;) {
    strides[order_[i]] = step;
    step *= shape_[order_[i]];
  }
  return strides;
}

bool PermutedLayout::same_as(const BlockedLayout& other) const {
  const auto* o = dynamic_cast<const PermutedLayout*>(&other);
  if (o == nullptr || o->shape_ != shape_) return false;
  const Shape a = strides(), b = o->strides();
  for (size_t d = 0; d < shape_.size(); ++d) {
    if (shape_[d] > 1 && a[d] != b[d]) return false;
  }
  return true;
}

std::unique_ptr<Kernel> PermutedLayout::make_reorder(DType dtype, const Shape& shape,
                                                     const Layout& from, const Layout& to) const {
  const auto from_order = stored_order(from, shape);
  const auto to_order = stored_order(to, shape);
  if (!from_order || !to_order) return nullptr;
  // The destination is written in its storage order; each of its elements reads the source at
  // the source's stride of the dim it belongs to.
  const Shape from_strides = PermutedLayout(shape, *from_order).strides();
  ref::StridedView view;
  for (int d : *to_order) {
    view.shape.push_back(shape[d]);
    view.strides.push_back(from_strides[d]);
  }
  view.simplify();
  return ref::make_view_kernel(dtype_size(dtype), std::move(view));
}

Layout permuted_layout(DType dtype, const Shape& shape, std::vector<int> order) {
  auto layout = std::make_shared<const PermutedLayout>(shape, std::move(order));
  std::vector<int> identity(shape.size());
  std::iota(identity.begin(), identity.end(), 0);
  // An order that moves only size-1 dims places every element as plain does.
  if (layout->same_as(PermutedLayout(shape, identity))) return Layout{};
  return Layout{layout, static_cast<size_t>(storage_bytes(dtype, shape_numel(shape)))};
}

Layout channels_last_layout(DType dtype, const Shape& shape) {
  std::vector<int> order{0};
  for (int d = 2; d < static_cast<int>(shape.size()); ++d) order.push_back(d);
  order.push_back(1);
  return permuted_layout(dtype, shape, std::move(order));
}

std::unique_ptr<std::vector<int>> stored_order(const Layout& layout, const Shape& shape) {
  if (layout.plain()) {
    auto identity = std::make_unique<std::vector<int>>(shape.size());
    std::iota(identity->begin(), identity->end(), 0);
    return identity;
  }
  const auto* permuted = dynamic_cast<const PermutedLayout*>(layout.blocked.get());
  if (permuted == nullptr || permuted->shape() != shape) return nullptr;
  return std::make_unique<std::vector<int>>(permuted->order());
}

bool is_channels_last(const Layout& layout, const Shape& shape) {
  if (layout.plain() || shape.size() < 3) return false;
  return same_layout(layout, channels_last_layout(DType::kUInt8, shape));
}

}  // namespace quench

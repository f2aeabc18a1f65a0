// How a runtime value is laid out in memory: plain row-major, a dense permutation of its dims
// (channels last), or a backend's own blocked layout (oneDNN's nChw16c, ...), kept between
// consecutive kernels that understand it. The runtime converts between layouts where a consumer
// needs another (runtime/kernel_registry.h: make_reorder_kernel).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/kernel.h"
#include "quench/tensor.h"

namespace quench {

struct Layout;

class BlockedLayout {
 public:
  virtual ~BlockedLayout() = default;
  // Whether `other` places every element where this one does.
  virtual bool same_as(const BlockedLayout& other) const = 0;
  // A kernel converting `dtype` values of `shape` from `from` to `to`, one of which is this layout
  // and the other plain or a layout of the same kind; nullptr when it cannot. The runtime tries
  // the backends' faster conversions first.
  virtual std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                               const Layout& to) const = 0;
};

struct Layout {
  std::shared_ptr<const BlockedLayout> blocked;  // null: plain row-major
  size_t blocked_bytes = 0;                      // storage size of a blocked layout

  bool plain() const { return blocked == nullptr; }
};

// A dense layout that stores the dims of `shape` in another order: order[i] is the dim stored
// i-th, outermost first. Channels last of [N, C, H, W] is {0, 2, 3, 1}. It belongs to no backend:
// every kernel that reads channels-last data reads it, whoever wrote it.
class PermutedLayout final : public BlockedLayout {
 public:
  PermutedLayout(Shape shape, std::vector<int> order);
  const Shape& shape() const { return shape_; }
  const std::vector<int>& order() const { return order_; }
  // The distance in elements between neighbours along each dim of shape().
  Shape strides() const;

  // Equal strides on every dim longer than 1.
  bool same_as(const BlockedLayout& other) const override;
  // A strided copy (the reference kernels' view copy).
  std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                       const Layout& to) const override;

 private:
  Shape shape_;
  std::vector<int> order_;
};

// The layout of values of `shape` stored in `order` (plain when `order` is the identity), and
// channels last ([N, spatial..., C]) for a shape of rank >= 3.
Layout permuted_layout(DType dtype, const Shape& shape, std::vector<int> order);
Layout channels_last_layout(DType dtype, const Shape& shape);
// The permutation `layout` stores, for a value of `shape`: the identity for plain, nullptr for a
// backend's blocked layout.
std::unique_ptr<std::vector<int>> stored_order(const Layout& layout, const Shape& shape);
bool is_channels_last(const Layout& layout, const Shape& shape);

// Whether two layouts describe the same placement of elements.
inline bool same_layout(const Layout& a, const Layout& b) {
  if (a.plain() || b.plain()) return a.plain() == b.plain();
  return a.blocked->same_as(*b.blocked);
}

}  // namespace quench

// How a runtime value is laid out in memory: plain row-major, or a backend's blocked layout
// (oneDNN's nChw16c, ...) kept between consecutive kernels that understand it. A blocked layout
// belongs to the backend that made it, which also converts values to and from it.
#pragma once

#include <cstddef>
#include <memory>

#include "kernels/kernel.h"
#include "quench/tensor.h"

namespace quench {

struct Layout;

class BlockedLayout {
 public:
  virtual ~BlockedLayout() = default;
  // Whether `other` places elements exactly as this one does.
  virtual bool same_as(const BlockedLayout& other) const = 0;
  // A kernel converting `dtype` values of `shape` from `from` to `to`, one of which is this layout
  // and the other plain or a layout of the same backend.
  virtual std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                               const Layout& to) const = 0;
};

struct Layout {
  std::shared_ptr<const BlockedLayout> blocked;  // null: plain row-major
  size_t blocked_bytes = 0;                      // storage size of a blocked layout

  bool plain() const { return blocked == nullptr; }
};

// Whether two layouts describe the same placement of elements.
inline bool same_layout(const Layout& a, const Layout& b) {
  if (a.plain() || b.plain()) return a.plain() == b.plain();
  return a.blocked->same_as(*b.blocked);
}

// The kernel converting values between two layouts, at least one of them blocked; its backend
// makes it.
inline std::unique_ptr<Kernel> make_reorder_kernel(DType dtype, const Shape& shape,
                                                   const Layout& from, const Layout& to) {
  const BlockedLayout& owner = from.plain() ? *to.blocked : *from.blocked;
  return owner.make_reorder(dtype, shape, from, to);
}

}  // namespace quench

// How a runtime value is laid out in memory: plain row-major, or a backend-specific blocked
// layout (oneDNN's nChw16c, ...) kept between consecutive kernels that understand it.
#pragma once

#include <cstddef>
#include <memory>

namespace quench {

// Defined by the backend that produces blocked layouts (src/kernels/onednn/layout.h).
struct BlockedLayout;

struct Layout {
  std::shared_ptr<const BlockedLayout> blocked;  // null: plain row-major
  size_t blocked_bytes = 0;                      // storage size of a blocked layout

  bool plain() const { return blocked == nullptr; }
};

// Whether two layouts describe the same placement of elements (backend-defined for blocked).
bool same_layout(const Layout& a, const Layout& b);

}  // namespace quench

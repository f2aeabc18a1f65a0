// Blocked layouts are oneDNN memory descriptors.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "runtime/layout.h"

namespace quench {

struct BlockedLayout {
  dnnl::memory::desc desc;
};

namespace onednn {

// The layout to record for a value that a oneDNN primitive stores as `desc`: plain when `desc`
// is the plain row-major layout of `shape`, blocked otherwise.
Layout layout_from_desc(const dnnl::memory::desc& desc, const dnnl::memory::desc& plain);
// The descriptor of a value stored in `layout` (plain: `plain`).
const dnnl::memory::desc& desc_of(const Layout& layout, const dnnl::memory::desc& plain);

}  // namespace onednn
}  // namespace quench

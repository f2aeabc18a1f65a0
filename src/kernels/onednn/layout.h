// oneDNN's blocked layouts: a memory descriptor, converted by oneDNN reorders.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/layout.h"

namespace quench::onednn {

class OnednnLayout final : public BlockedLayout {
 public:
  explicit OnednnLayout(dnnl::memory::desc desc) : desc_(desc) {}
  const dnnl::memory::desc& desc() const { return desc_; }

  bool same_as(const BlockedLayout& other) const override;
  // Any type oneDNN stores (f32, f16, bf16, u8, s8, s32); a reorder only moves elements, so
  // integer values come out unchanged.
  std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                       const Layout& to) const override;

 private:
  dnnl::memory::desc desc_;
};

// The layout to record for a value that a oneDNN primitive stores as `desc`: plain when `desc`
// is the plain row-major layout of `shape`, blocked otherwise.
Layout layout_from_desc(const dnnl::memory::desc& desc, const dnnl::memory::desc& plain);
// The descriptor of a value stored in `layout` (plain: `plain`); kInternal for another backend's
// blocked layout.
const dnnl::memory::desc& desc_of(const Layout& layout, const dnnl::memory::desc& plain);
// Whether `layout` is plain or one of oneDNN's.
bool is_onednn_or_plain(const Layout& layout);

}  // namespace quench::onednn

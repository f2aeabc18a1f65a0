// Layouts as oneDNN sees them: its own blocked layouts (a memory descriptor, converted by oneDNN
// reorders), and the plain and permuted layouts every backend shares, as descriptors.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "kernels/layout.h"

namespace quench::onednn {

class OnednnLayout final : public BlockedLayout {
 public:
  explicit OnednnLayout(dnnl::memory::desc desc) : desc_(desc) {}
  const dnnl::memory::desc& desc() const { return desc_; }

  bool same_as(const BlockedLayout& other) const override;
  std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                       const Layout& to) const override;

 private:
  dnnl::memory::desc desc_;
};

// The layout to record for a value that a oneDNN primitive stores as `desc`: plain when `desc`
// is the plain row-major layout of `shape`, a PermutedLayout when it is a dense permutation of
// the dims (channels last, ...), an OnednnLayout otherwise.
Layout layout_from_desc(const dnnl::memory::desc& desc, const dnnl::memory::desc& plain);
// The descriptor of a value stored in `layout` (plain: `plain`, whose dims and type it takes for
// a permuted layout); kInternal for another backend's blocked layout.
dnnl::memory::desc desc_of(const Layout& layout, const dnnl::memory::desc& plain);
// Whether oneDNN can describe `layout`: plain, permuted or its own.
bool onednn_reads(const Layout& layout);

// `desc`'s dims and layout with elements of `type` (a blocked layout's strides in elements stay).
dnnl::memory::desc retyped(const dnnl::memory::desc& desc, dnnl::memory::data_type type);

// A oneDNN reorder between two layouts it reads (any type it stores: f32, f16, bf16, u8, s8,
// s32; integer values come out unchanged); nullptr otherwise.
std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                     const Layout& to);

}  // namespace quench::onednn

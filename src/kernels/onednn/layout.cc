#include "kernels/onednn/layout.h"

#include "core/check.h"
#include "kernels/onednn/context.h"

namespace quench::onednn {

bool OnednnLayout::same_as(const BlockedLayout& other) const {
  const auto* o = dynamic_cast<const OnednnLayout*>(&other);
  return o != nullptr && o->desc_ == desc_;
}

Layout layout_from_desc(const dnnl::memory::desc& desc, const dnnl::memory::desc& plain) {
  if (desc == plain) return Layout{};
  return Layout{std::make_shared<const OnednnLayout>(desc), desc.get_size()};
}

bool is_onednn_or_plain(const Layout& layout) {
  return layout.plain() || dynamic_cast<const OnednnLayout*>(layout.blocked.get()) != nullptr;
}

const dnnl::memory::desc& desc_of(const Layout& layout, const dnnl::memory::desc& plain) {
  if (layout.plain()) return plain;
  const auto* own = dynamic_cast<const OnednnLayout*>(layout.blocked.get());
  QUENCH_CHECK(own != nullptr, ErrorKind::kInternal, "a blocked layout of another backend");
  return own->desc();
}

namespace {

struct ReorderState final : KernelState {
  dnnl::memory src, dst;
};

class ReorderKernel final : public Kernel {
 public:
  ReorderKernel(dnnl::memory::desc src, dnnl::memory::desc dst)
      : src_(src),
        dst_(dst),
        reorder_(dnnl::reorder::primitive_desc(engine(), src, engine(), dst)) {}

  std::unique_ptr<KernelState> make_state() const override {
    auto s = std::make_unique<ReorderState>();
    s->src = dnnl::memory(src_, engine(), DNNL_MEMORY_NONE);
    s->dst = dnnl::memory(dst_, engine(), DNNL_MEMORY_NONE);
    return s;
  }
  void run(const KernelArgs& args) const override {
    auto* s = static_cast<ReorderState*>(args.state);
    s->src.set_data_handle(const_cast<void*>(args.inputs[0]));
    s->dst.set_data_handle(args.outputs[0]);
    reorder_.execute(stream(), {{DNNL_ARG_FROM, s->src}, {DNNL_ARG_TO, s->dst}});
  }
  std::string impl() const override { return "onednn:reorder"; }

 private:
  dnnl::memory::desc src_, dst_;
  dnnl::reorder reorder_;
};

}  // namespace

std::unique_ptr<Kernel> OnednnLayout::make_reorder(DType dtype, const Shape& shape,
                                                   const Layout& from, const Layout& to) const {
  const dnnl::memory::data_type type = to_dnnl(dtype);
  QUENCH_CHECK(type != dnnl::memory::data_type::undef, ErrorKind::kUnsupported,
               "layout conversion of {} {} values: oneDNN does not store that type",
               shape_str(shape), dtype_name(dtype));
  const dnnl::memory::desc plain = plain_desc(dtype, shape);
  const dnnl::memory::desc& src = desc_of(from, plain);
  const dnnl::memory::desc& dst = desc_of(to, plain);
  for (const dnnl::memory::desc* d : {&src, &dst}) {
    QUENCH_CHECK(d->data_type() == type && d->dims() == plain.dims(), ErrorKind::kInternal,
                 "layout conversion of {} {} values between layouts of another type or shape",
                 shape_str(shape), dtype_name(dtype));
  }
  return std::make_unique<ReorderKernel>(src, dst);
}

}  // namespace quench::onednn

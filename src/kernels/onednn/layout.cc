#include "kernels/onednn/layout.h"

#include <algorithm>
#include <numeric>

#include "core/check.h"
#include "kernels/onednn/context.h"

namespace quench::onednn {

bool OnednnLayout::same_as(const BlockedLayout& other) const {
  const auto* o = dynamic_cast<const OnednnLayout*>(&other);
  return o != nullptr && o->desc_ == desc_;
}

namespace {

// The order of the dims `desc` stores densely (outermost first), or an empty vector when it is
// not a dense permutation (inner blocks, padding, an offset, or gaps between dims).
std::vector<int> dense_order(const dnnl::memory::desc& desc) {
  const dnnl_memory_desc_t& d = desc.data;
  if (d.format_kind != dnnl_blocked || d.format_desc.blocking.inner_nblks != 0 || d.offset0 != 0 ||
      d.extra.flags != 0) {
    return {};
  }
  const int rank = d.ndims;
  const auto& strides = d.format_desc.blocking.strides;
  // Size-1 dims first (where they stand says nothing), then the others, largest stride first.
  std::vector<int> order;
  for (int dim = 0; dim < rank; ++dim) {
    if (d.dims[dim] == 1) order.push_back(dim);
  }
  const size_t units = order.size();
  for (int dim = 0; dim < rank; ++dim) {
    if (d.dims[dim] != 1) order.push_back(dim);
  }
  std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(units), order.end(),
                   [&](int a, int b) { return strides[a] > strides[b]; });
  int64_t step = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int dim = order[i];
    if (d.padded_dims[dim] != d.dims[dim]) return {};
    if (d.dims[dim] != 1 && strides[dim] != step) return {};
    step *= d.dims[dim];
  }
  return order;
}

}  // namespace

Layout layout_from_desc(const dnnl::memory::desc& desc, const dnnl::memory::desc& plain) {
  if (desc == plain) return Layout{};
  std::vector<int> order = dense_order(desc);
  const DType type = from_dnnl(desc.data_type());
  if (!order.empty() && type != DType::kUndefined) {
    const dnnl::memory::dims dims = desc.dims();
    return permuted_layout(type, Shape(dims.begin(), dims.end()), std::move(order));
  }
  return Layout{std::make_shared<const OnednnLayout>(desc), desc.get_size()};
}

bool onednn_reads(const Layout& layout) {
  return layout.plain() || dynamic_cast<const OnednnLayout*>(layout.blocked.get()) != nullptr ||
         dynamic_cast<const PermutedLayout*>(layout.blocked.get()) != nullptr;
}

dnnl::memory::desc desc_of(const Layout& layout, const dnnl::memory::desc& plain) {
  if (layout.plain()) return plain;
  if (const auto* own = dynamic_cast<const OnednnLayout*>(layout.blocked.get())) {
    return own->desc();
  }
  const auto* permuted = dynamic_cast<const PermutedLayout*>(layout.blocked.get());
  QUENCH_CHECK(permuted != nullptr, ErrorKind::kInternal, "a blocked layout of another backend");
  return dnnl::memory::desc(plain.dims(), plain.data_type(), to_dims(permuted->strides()));
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
    execute(reorder_, {{DNNL_ARG_FROM, &s->src}, {DNNL_ARG_TO, &s->dst}});
  }
  std::string impl() const override { return "onednn:reorder"; }

 private:
  dnnl::memory::desc src_, dst_;
  dnnl::reorder reorder_;
};

}  // namespace

std::unique_ptr<Kernel> OnednnLayout::make_reorder(DType dtype, const Shape& shape,
                                                   const Layout& from, const Layout& to) const {
  return onednn::make_reorder(dtype, shape, from, to);
}

std::unique_ptr<Kernel> make_reorder(DType dtype, const Shape& shape, const Layout& from,
                                     const Layout& to) {
  const dnnl::memory::data_type type = to_dnnl(dtype);
  if (type == dnnl::memory::data_type::undef || !onednn_reads(from) || !onednn_reads(to)) {
    return nullptr;
  }
  const dnnl::memory::desc plain = plain_desc(dtype, shape);
  const dnnl::memory::desc src = desc_of(from, plain);
  const dnnl::memory::desc dst = desc_of(to, plain);
  for (const dnnl::memory::desc* d : {&src, &dst}) {
    QUENCH_CHECK(d->data_type() == type && d->dims() == plain.dims(), ErrorKind::kInternal,
                 "layout conversion of {} {} values between layouts of another type or shape",
                 shape_str(shape), dtype_name(dtype));
  }
  return std::make_unique<ReorderKernel>(src, dst);
}

dnnl::memory::desc retyped(const dnnl::memory::desc& desc, dnnl::memory::data_type type) {
  dnnl_memory_desc_t data = desc.data;
  data.data_type = dnnl::memory::convert_to_c(type);
  return dnnl::memory::desc(data);
}

}  // namespace quench::onednn

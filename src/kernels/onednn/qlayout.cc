#include "kernels/onednn/qlayout.h"

#include "kernels/onednn/context.h"
#include "kernels/onednn/layout.h"

namespace quench::onednn {

bool dense_layout(const TensorDesc& value) {
  if (value.layout.plain() || dynamic_cast<const PermutedLayout*>(value.layout.blocked.get())) {
    return true;
  }
  if (!onednn_reads(value.layout)) return false;
  const dnnl::memory::desc desc = desc_of(value.layout, plain_desc(value.dtype, value.shape));
  return desc.data.format_kind == dnnl_blocked && desc.data.extra.flags == 0 &&
         desc.get_size() == static_cast<size_t>(value.numel()) * dtype_size(value.dtype);
}

dnnl::memory::desc channels_last_desc(DType type, const Shape& shape) {
  using tag = dnnl::memory::format_tag;
  const tag t = shape.size() == 3 ? tag::acb : shape.size() == 4 ? tag::acdb : tag::acdeb;
  return dnnl::memory::desc(to_dims(shape), to_dnnl(type), t);
}

LayoutStep::LayoutStep(const dnnl::memory::desc& from, const dnnl::memory::desc& to)
    : active_(true),
      from_(from),
      to_(to),
      reorder_(dnnl::reorder::primitive_desc(engine(), from, engine(), to)) {}

void LayoutStep::make_memories(dnnl::memory& from, dnnl::memory& to) const {
  if (!active_) return;
  from = dnnl::memory(from_, engine(), DNNL_MEMORY_NONE);
  to = dnnl::memory(to_, engine(), DNNL_MEMORY_NONE);
}

void LayoutStep::run(const void* from_data, void* to_data, dnnl::memory& from,
                     dnnl::memory& to) const {
  from.set_data_handle(const_cast<void*>(from_data));
  to.set_data_handle(to_data);
  execute(reorder_, {{DNNL_ARG_FROM, &from}, {DNNL_ARG_TO, &to}});
}

}  // namespace quench::onednn

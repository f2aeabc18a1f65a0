// Layout helpers of the int8 kernels (qbinary, qpool, qconcat): which layouts a loop over the
// elements in storage order may read, oneDNN's channels-last int8 layout, and a layout conversion
// that a kernel runs before or after its own work.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "ops/op_registry.h"

namespace quench::onednn {

// Whether `value` is stored densely, without padding (plain, channels-last, or a blocked layout
// whose blocks divide the dims exactly): then an element-wise loop may read it as a flat array in
// storage order.
bool dense_layout(const TensorDesc& value);

// The channels-last descriptor (nwc, nhwc, ndhwc: oneDNN's acb, acdb, acdeb) of a value of rank
// 3 to 5 read as [N, C, spatial...].
dnnl::memory::desc channels_last_desc(DType type, const Shape& shape);

// A oneDNN layout conversion between two buffers that a kernel runs as one of its steps. Its
// memory objects live in the kernel's state (one per concurrent run).
class LayoutStep {
 public:
  LayoutStep() = default;
  LayoutStep(const dnnl::memory::desc& from, const dnnl::memory::desc& to);

  bool active() const { return active_; }
  void make_memories(dnnl::memory& from, dnnl::memory& to) const;
  void run(const void* from_data, void* to_data, dnnl::memory& from, dnnl::memory& to) const;

 private:
  bool active_ = false;
  dnnl::memory::desc from_, to_;
  dnnl::reorder reorder_;
};

// Size rounded up to the 64-byte alignment of scratch buffers.
inline size_t align64(size_t bytes) { return (bytes + 63) / 64 * 64; }

}  // namespace quench::onednn

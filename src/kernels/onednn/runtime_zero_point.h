// A source zero point known only at run time: ConvInteger's and MatMulInteger's x / A zero point
// as DynamicQuantizeLinear computes it (eq. (37)). The primitive is made with
// DNNL_RUNTIME_S32_VAL (Int8Requant::src_zero_point_at_run_time); each run widens the input's one
// u8 / s8 value into a one-element s32 memory of the execution state.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>
#include <unordered_map>

#include "kernels/onednn/context.h"
#include "ops/quantized/params.h"

namespace quench::onednn {

struct RuntimeZeroPoint {
  int input = -1;  // the node input holding the zero point, or -1 (none at run time)
  DType type = DType::kUInt8;

  bool present() const { return input >= 0; }

  // The state's memory for the value, registered in `args` (nothing when absent).
  void add_to(std::unordered_map<int, dnnl::memory>& args) const {
    if (!present()) return;
    args.emplace(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC,
                 dnnl::memory({{1}, dnnl::memory::data_type::s32, {1}}, engine()));
  }
  // Stores this run's value into the memory add_to() registered.
  void load(const KernelArgs& a, std::unordered_map<int, dnnl::memory>& args) const {
    if (!present()) return;
    void* handle = args.at(DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC).get_data_handle();
    *static_cast<int32_t*>(handle) = zero_point_at(a.inputs[input], type, 0);
  }
};

}  // namespace quench::onednn

// Packed sub-byte initializers (ONNX INT4 / UINT4 / INT2 / UINT2, core/packing.h) read only by
// DequantizeLinear become int8 / uint8 tensors of the same values when a session is prepared: a
// DequantizeLinear computes (x − z) · s whatever the integer type holding x and z, and every
// lowering and kernel then sees the 8-bit weights it already runs at 8-bit speed.
#include <map>

#include "core/packing.h"
#include "quench/passes.h"

namespace quench {

int widen_packed_integers(Graph& graph) {
  std::map<std::string, bool> only_dequantized;  // packed initializer -> read by DQ alone
  for (const auto& [name, t] : graph.initializers) {
    if (is_packed_int(t.dtype())) only_dequantized[name] = true;
  }
  if (only_dequantized.empty()) return 0;
  for (const Node& node : graph.nodes) {
    const bool dq = node.domain.empty() && node.op_type == "DequantizeLinear";
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      auto it = only_dequantized.find(node.inputs[i]);
      if (it != only_dequantized.end() && (!dq || i == 1)) it->second = false;
    }
  }
  for (const std::string& out : graph.outputs) {
    auto it = only_dequantized.find(out);
    if (it != only_dequantized.end()) it->second = false;
  }
  int widened = 0;
  for (const auto& [name, ok] : only_dequantized) {
    if (!ok) continue;
    const Tensor& packed = graph.initializers.at(name);
    const DType wide = dtype_info(packed.dtype()).is_signed ? DType::kInt8 : DType::kUInt8;
    Tensor t = Tensor::empty(wide, packed.shape());
    unpack_to_int8(packed.raw_data(), packed.dtype(), packed.numel(),
                   static_cast<int8_t*>(t.raw_data()));
    graph.initializers[name] = std::move(t);
    if (auto v = graph.values.find(name); v != graph.values.end()) v->second.dtype = wide;
    ++widened;
  }
  return widened;
}

}  // namespace quench

#include "quant/int4_storage.h"

#include <algorithm>
#include <map>
#include <vector>

#include "core/packing.h"
#include "quench/passes.h"

namespace quench::quant {
namespace {

bool is_dequantize(const Node& n) { return n.domain.empty() && n.op_type == "DequantizeLinear"; }

// The 4-bit type holding every value of `t`, or kUndefined.
DType narrow_type(const Tensor& t) {
  if (t.dtype() == DType::kInt8) {
    const int8_t* v = t.data<int8_t>();
    const bool fits = std::all_of(v, v + t.numel(), [](int8_t x) { return x >= -8 && x <= 7; });
    return fits ? DType::kInt4 : DType::kUndefined;
  }
  if (t.dtype() == DType::kUInt8) {
    const uint8_t* v = t.data<uint8_t>();
    const bool fits = std::all_of(v, v + t.numel(), [](uint8_t x) { return x <= 15; });
    return fits ? DType::kUInt4 : DType::kUndefined;
  }
  return DType::kUndefined;
}

Tensor pack(const Tensor& t, DType type) {
  Tensor out = Tensor::empty(type, t.shape());
  pack_from_int8(static_cast<const int8_t*>(t.raw_data()), type, t.numel(), out.raw_data());
  return out;
}

}  // namespace

Int4StorageResult store_weights_as_int4(Model& model) {
  Graph& g = model.graph;
  // Readers of each initializer: (node index, input index).
  std::map<std::string, std::vector<std::pair<size_t, size_t>>> readers;
  for (size_t n = 0; n < g.nodes.size(); ++n) {
    for (size_t i = 0; i < g.nodes[n].inputs.size(); ++i) {
      const std::string& in = g.nodes[n].inputs[i];
      if (!in.empty() && g.is_initializer(in)) readers[in].push_back({n, i});
    }
  }
  const auto is_output = [&](const std::string& v) {
    return std::find(g.outputs.begin(), g.outputs.end(), v) != g.outputs.end();
  };
  Int4StorageResult r;
  std::map<std::string, std::string> packed_zero_points;  // zero point -> its 4-bit copy
  for (auto& [name, uses] : readers) {
    const Tensor& w = g.initializers.at(name);
    if (w.rank() < 1 || is_output(name)) continue;
    const DType type = narrow_type(w);
    if (type == DType::kUndefined) continue;
    bool ok = true;
    for (const auto& [n, i] : uses) {
      const Node& dq = g.nodes[n];
      ok = ok && is_dequantize(dq) && i == 0;
      if (!ok) break;
      if (!dq.has_input(2)) continue;
      const Tensor* z = g.initializer(dq.input(2));
      ok = z != nullptr && narrow_type(*z) == type;
    }
    if (!ok) continue;
    r.bytes_before += static_cast<int64_t>(w.nbytes());
    Tensor packed = pack(w, type);
    r.bytes_after += static_cast<int64_t>(packed.nbytes());
    g.initializers[name] = std::move(packed);
    if (auto v = g.values.find(name); v != g.values.end()) v->second.dtype = type;
    for (const auto& [n, i] : uses) {
      Node& dq = g.nodes[n];
      if (!dq.has_input(2)) continue;
      const std::string zero = dq.input(2);
      auto done = packed_zero_points.find(zero);
      if (done == packed_zero_points.end()) {
        // A copy: the original may be read by 8-bit quantizers too.
        const std::string copy = g.unique_name(zero + "_int4");
        g.initializers[copy] = pack(*g.initializer(zero), type);
        g.values[copy] = ValueInfo{type, symbolic(g.initializers.at(copy).shape()), ""};
        done = packed_zero_points.emplace(zero, copy).first;
      }
      dq.inputs[2] = done->second;
    }
    ++r.tensors;
  }
  if (r.tensors == 0) return r;
  eliminate_dead_nodes(g);
  upgrade_opset(g, 21);
  model.ir_version = std::max<int64_t>(model.ir_version, 10);
  return r;
}

}  // namespace quench::quant

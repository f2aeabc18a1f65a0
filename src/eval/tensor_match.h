// Which value of model B stands for which float tensor of model A (quench compare): through the
// QDQ form (a DequantizeLinear output carries the tensor its QuantizeLinear quantized), through
// the QOperator form (an 8-bit tensor "X_quantized", dequantized with the scale of the op that
// produced it, stands for X), and otherwise by name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench {

struct TensorMatch {
  std::string a_name;
  std::string b_name;
  bool dequantize = false;  // B's value is 8-bit: compare scale * (q - zero_point)
  float scale = 1;
  int32_t zero_point = 0;
  // The range B's 8-bit form represents (from its quantization parameters), when known.
  bool has_range = false;
  double range_lo = 0, range_hi = 0;
};

// `a_values` / `b_values`: the element type of every value a run of A / B reports to its tensor
// callback; `a_graph` / `b_graph` the prepared graphs (Session::graph()). An 8-bit "X_quantized"
// stands for the output of a Relu/Clip that alone reads X in A when B has no tensor of that
// activation (ONNX Runtime fuses it into QLinearConv). One match per A tensor, the
// strongest kind first (QDQ, then QOperator, then name), in A's order of `a_values`' keys.
std::vector<TensorMatch> match_tensors(const std::map<std::string, DType>& a_values,
                                       const std::map<std::string, DType>& b_values,
                                       const Graph& a_graph, const Graph& b_graph);

}  // namespace quench

// Which nodes dynamic quantization rewrites, and the constant weights it stores as int8
// (docs/quantization.md, "Dynamic quantization"). The planner (quant_plan.cc) applies the recipe
// first; these rules say whether a node it selected has a dynamic form.
#pragma once

#include <string>

#include "quant/quant_plan.h"
#include "quench/graph.h"

namespace quench::quant {

// A MatMul, Gemm, Conv, LSTM or GRU whose weight (input 1) is a float constant: the layers that
// "first" and "last" name in dynamic mode.
bool has_constant_weight(const Graph& g, const Node& node);

// Why `node` cannot be quantized dynamically, or "" when it can.
std::string dynamic_support(const Graph& g, const Node& node);

// The weight inputs of a supported node and their output-channel axes: B of MatMul ([K, N], axis
// 1) and Gemm (axis 0 with transB), W of Conv (axis 0), W and R of LSTM and GRU (axis 1, the gate
// rows of [dirs, gates * hidden, K]).
NodeQuant dynamic_weights(const Node& node);

// How a supported node is written, for the report.
std::string dynamic_description(const Node& node, bool per_channel);

}  // namespace quench::quant

// Internal fused ops, made by the runtime's fusion passes and never exported:
//   FusedConv, FusedGemm, FusedMatMul (domain kInternalDomain) carry the base op's attributes and
//   inputs, then optionally
//     bias = 1: one more input, a 1-D float bias added along the last axis (MatMul only);
//     sum = 1:  one more (last) input of the output's shape, added element-wise;
//   and finally an activation (attributes of ops/activation.h). Output = act(base + bias + sum).
//   The base op's operands (Conv's X and W, Gemm's and MatMul's A and B) may be bfloat16 where
//   the others are float32: they are read as float32, exactly. Attribute `to` (an ONNX element
//   type: float, the default, or bfloat16) is the output's type; bfloat16 rounds the float32
//   result to nearest even (docs/quantization.md, eq. (158)).
#pragma once

#include <string>

#include "ops/activation.h"
#include "ops/domains.h"
#include "quench/graph.h"

namespace quench {

struct FusedInfo {
  std::string base_op;  // "Conv", "Gemm", "MatMul"
  size_t base_inputs = 0;
  int bias_input = -1;
  int sum_input = -1;
  Activation activation;
  DType output_type = DType::kFloat32;
};

// The fused node's parts; kInvalidModel when it is malformed.
FusedInfo fused_info(const Node& node);

// The parts of a fused node, or of a plain base node (all inputs base inputs, no epilogue).
FusedInfo fused_or_base_info(const Node& node);

// The fused op type for a base op ("Conv" -> "FusedConv"), or "" when it has none.
std::string fused_op_for(const std::string& base_op);

}  // namespace quench

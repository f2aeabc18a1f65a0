// Which nodes and tensors a recipe quantizes, decided once on the prepared graph and shared by
// calibration (which tensors to observe) and the QDQ writer (where Q/DQ pairs go).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "quench/quantize.h"

namespace quench::quant {

// A tensor that gets a QuantizeLinear/DequantizeLinear pair.
struct ActivationQuant {
  DType type = DType::kUInt8;
  // The tensor whose calibrated range gives this one's scale and zero point: itself, or, for the
  // output of a data-movement op (MaxPool, Reshape, ...), the input it inherits them from.
  std::string params_from;
  bool constant = false;  // an initializer used as an operand (range from its own values)
};

// A constant input stored as int8.
struct WeightInput {
  size_t input = 0;
  int64_t axis = 0;  // output-channel axis for per-channel scales
  int bits = 8;      // symmetric bit width, 2 to 8 (eq. (25))
};

struct NodeQuant {
  size_t node = 0;  // index in the prepared graph
  std::vector<WeightInput> weights;
  int bias_input = -1;  // int32 bias with scale s_x * s_w (eq. (26)); -1: none
  // A MatMul's bias added by the Add joined to it (a linear layer): that Add's node and input,
  // stored as an int32 bias with scale s_x * s_w as bias_input is; -1: none.
  int bias_node = -1, bias_node_input = -1;
};

struct QuantPlan {
  std::vector<NodeDecision> decisions;  // one per node, in graph order
  std::vector<bool> quantized;          // per node
  // Per node: the node whose quantization unit it belongs to (an activation fused into its
  // Conv, a bias Add into its MatMul, the nodes of a GELU into its first), or -1: its own.
  std::vector<int> joins;
  std::map<std::string, ActivationQuant> activations;
  std::vector<NodeQuant> nodes;  // quantized nodes with weights or bias
  // Tensors whose range comes from calibration.
  std::set<std::string> observed() const;
};

// Static: Q/DQ pairs on activations, calibrated. Dynamic: weights only, activations quantized at
// run time; a node is quantized when dynamic_support() (dynamic_plan.h) accepts it.
enum class PlanMode { kStatic, kDynamic };

// kInvalidArgument when the recipe names a node (or a pattern matches none) that is not in the
// graph.
QuantPlan plan_quantization(const Graph& prepared, const QuantRecipe& recipe,
                            PlanMode mode = PlanMode::kStatic);

// "4-bit", or "4-bit (2 nodes with their own width)" when the recipe sets some per node.
std::string describe_weight_bits(const QuantRecipe& recipe);

}  // namespace quench::quant

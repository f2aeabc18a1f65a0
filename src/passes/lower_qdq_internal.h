// Pieces shared by the QDQ-lowering pass (lower_qdq.cc: driver, residual fusion, emission;
// lower_qdq_units.cc: one matcher per op family). A *unit* is one float op between
// DequantizeLinear inputs and one QuantizeLinear (with an optional Relu/Clip before the Q); it is
// replaced by one integer node that writes the Q's output.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/graph_index.h"
#include "ops/activation.h"
#include "ops/domains.h"
#include "ops/quantized/params.h"
#include "passes/runtime_passes.h"
#include "quench/graph.h"

namespace quench::qdq_lowering {

// A bias is used as is when its scale equals s_x·s_w[c] up to this relative difference: tools
// form the product in float or double, which differ by a few units in the last place.
inline constexpr double kBiasScaleTolerance = 1e-6;

// A quantized tensor as a DequantizeLinear reads it or a QuantizeLinear writes it. Parameters are
// constant (initializers).
struct QTensor {
  std::string value;       // the quantized value (u8, s8 or s32)
  std::string scale;       // initializer
  std::string zero_point;  // initializer, or "" (zeros)
  QuantParams params;
  int node = -1;  // the DequantizeLinear or QuantizeLinear

  bool per_tensor() const { return params.size() == 1; }
};

// Same element type, scale and zero point.
bool same_params(const QuantParams& a, const QuantParams& b);

// The clamp a Relu or Clip applies to a real result before its QuantizeLinear.
struct Clamp {
  float lo;
  float hi;
};

// What follows a matched op: [Relu | Clip] [Min(·, per-channel constant)] then the
// QuantizeLinear.
struct Tail {
  int activation = -1;  // the Relu/Clip node (or the function's), or -1
  std::optional<Clamp> clamp;
  // Another activation (Swish, Sigmoid, ...) applied to the real result before the Q, which an
  // integer convolution computes in its epilogue (eq. (150)); admitted by `function` of tail().
  std::optional<Activation> function;
  int bound = -1;                     // the Min node of a per-channel upper bound, or -1
  std::vector<float> channel_bounds;  // its bound per output channel (eq. (50) per channel)
  Shape bound_shape;                  // the bound's shape ([C, 1, 1] after a 2-D convolution)
  QTensor output;
};

// One matched unit.
struct Unit {
  std::string float_op;       // the float op replaced ("Conv", ...)
  int op_node = -1;           // its index in the graph
  std::vector<int> replaced;  // float-graph nodes the unit removes (op, activation, Q)
  Node node;                  // the integer node; outputs[0] is the Q's output
  QTensor output;             // the Q's parameters
  std::optional<Clamp> clamp;
  bool has_activation = false;  // a Relu/Clip was matched (even one the Q makes redundant)
  // Non-empty: the unit is valid only merged into a convolution by residual fusion (a QLinearAdd
  // of mixed types, which the fused sum allows); the reason it stays float otherwise.
  std::string fused_only;
  // The output's per-channel scales are folded into the weight scales (eq. (133)): the unit must
  // not take another output's parameters (residual fusion).
  bool output_scales_folded = false;
  // Non-empty: the quantized per-channel upper bounds of a Min in the tail (eq. (50)), applied
  // after the integer node by an 8-bit Min.
  Tensor channel_max;
  // Nodes emitted with the integer node (the Reshapes around a MatMul's float-output QGemm).
  std::vector<Node> companions;
};

// A unit, or why the node stays in float.
struct Match {
  std::optional<Unit> unit;
  std::string reason;
};

// The graph being lowered, its index and the helpers matchers share.
class Context {
 public:
  explicit Context(Graph& graph);

  Graph& graph;
  GraphIndex index;
  bool has_qfused_conv = false;  // QFusedConv / QFusedMatMul registered
  bool has_qfused_matmul = false;

  // The quantized tensor behind float `value` (a DequantizeLinear output with constant
  // parameters), or nullopt with `why` set.
  std::optional<QTensor> dequantized(const std::string& value, std::string& why) const;
  // The same for a QuantizeLinear node's output.
  std::optional<QTensor> quantized_output(int q_node, std::string& why,
                                          bool per_channel = false) const;
  // The chain from `value` (a float op's output) to its QuantizeLinear; `allow_clamp` admits a
  // Relu/Clip in between, `per_channel_output` a QuantizeLinear per index along axis 1,
  // `channel_bound` a Min with a constant of one value per channel (shape [C, 1, ...]) after the
  // Relu/Clip, `function` any other activation of ops/activation.h in place of the Relu/Clip.
  std::optional<Tail> tail(const std::string& value, bool allow_clamp, std::string& why,
                           bool per_channel_output = false, bool channel_bound = false,
                           bool function = false) const;

  // The node of `value`'s producer, or nullptr.
  const Node* producer(const std::string& value) const;
  std::optional<Shape> shape_of(const std::string& value) const;

  // Adds an initializer named after `base` and returns its name.
  std::string add_initializer(const std::string& base, Tensor value);
  // The zero-point initializer of `t`, created (zeros of the scale's shape) when it has none.
  std::string zero_point_of(const QTensor& t);
  // A fresh value name (reserved in graph.values).
  std::string fresh_value(const std::string& base);

 private:
  std::map<std::string, std::string> zero_points_;  // created zero points by scale and type
};

// Eq. (40): the 256-entry QLookup table of `f` from x's to y's (per-tensor, same-type) parameters.
Tensor lookup_table(const QuantParams& x, const QuantParams& y, const Activation& f);

// Matches the unit rooted at float node `n` (the op), or says why it stays in float.
Match match_unit(Context& ctx, int n);

// Helpers of the matchers.
bool is_op(const Node& node, const char* op_type);
Match stays_float(std::string reason);
// The unit's integer node (named after the float op) writing the Q's output.
Unit make_unit(const Node& op, int n, const Tail& tail, std::string op_type, std::string domain);
// A unit whose integer node (named after the float op) writes the op's own float result: no Q is
// replaced (QGemm without y_scale, DequantizeGlobalAveragePool).
Unit make_float_output_unit(const Node& op, int n, std::string op_type, std::string domain);
// Input `i` of `node` as an 8-bit per-tensor quantized activation, or nullopt with `why`.
std::optional<QTensor> activation_input(const Context& ctx, const Node& node, size_t i,
                                        std::string& why);
// The quantized input 0 of a single-input op and the Q after its output (no clamp), both of one
// type; nullopt with `why` otherwise.
struct UnaryIo {
  QTensor x;
  Tail tail;
};
std::optional<UnaryIo> unary_io(Context& ctx, const Node& op, std::string& why);
// (a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, y_zero_point): the inputs of
// QLinearMatMul, QLinearAdd and QLinearMul.
std::vector<std::string> binary_qlinear_inputs(Context& ctx, const QTensor& a, const QTensor& b,
                                               const Tail& tail);

// Tables (lower_qdq_tables.cc): an activation `f` (Relu, Sigmoid, Gelu, ...) between a DQ and
// a Q, and a chain of element-wise float ops with scalar constants (Div -> Erf, ...) between them.
Match match_lookup(Context& ctx, int n, const Activation& f);
// nullopt when node `n` does not start such a chain.
std::optional<Match> match_elementwise_chain(Context& ctx, int n);

// The integer op a unit's float op maps to, for reports ("Conv -> QLinearConv").
std::string unit_label(const Unit& unit);

}  // namespace quench::qdq_lowering

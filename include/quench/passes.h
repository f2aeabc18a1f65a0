// Graph passes: each reads and rewrites a Graph in place.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "quench/error.h"
#include "quench/graph.h"

namespace quench {

// Orders nodes so that every node follows the producers of its inputs (stable for already
// ordered graphs). kInvalidModel naming a node on the cycle when there is one.
void topological_sort(Graph& graph);

// A problem found in a graph: its kind, where (a node's description, a value; empty when the
// problem is the graph's) and the whole message (what, where, expected vs got).
struct GraphProblem {
  ErrorKind kind = ErrorKind::kInvalidModel;
  std::string node;
  std::string value;
  std::string message;
};

// Structure checks: names unique, every node input produced by a graph input, an initializer or
// exactly one node, graph outputs produced, no cycle. Every problem found, in graph order.
std::vector<GraphProblem> graph_problems(const Graph& graph);
// graph_problems(), as one kInvalidModel error listing them all (none: returns).
void verify_graph(const Graph& graph);

struct InferOptions {
  // Unknown ops, and inferred types that contradict declared ones, are errors (else they leave
  // the outputs' types and shapes unknown).
  bool strict = false;
  // When set, a node whose inference fails adds its problem here, its outputs stay unknown and
  // the sweep goes on (to report every problem); unknown ops are skipped.
  std::vector<GraphProblem>* problems = nullptr;
};
// Infers the type and shape of every value it can, in topological order.
void infer_shapes(Graph& graph, const InferOptions& options = {});

// Raises the default-domain opset import to `target` (at most 21) from 13 or later, rewriting
// the node forms that changed in between (Reduce* axes attribute -> input at 18, Split's
// num_outputs at 18, RoiAlign's default mode at 16, GridSample's mode names at 20). Subgraphs
// (If/Loop/Scan), DFT across 20 and GroupNormalization across 21 are refused (kUnsupported, naming
// the node); so is a source below 13. Returns the number of nodes rewritten; no-op when the graph
// is already at `target` or above.
int upgrade_opset(Graph& graph, int64_t target);

// Packed sub-byte initializers (INT4, UINT4, INT2, UINT2) read only by DequantizeLinear (as x
// or zero point) become int8 / uint8 initializers holding the same values (DequantizeLinear
// computes the same). Returns the number widened. Sessions run it first.
int widen_packed_integers(Graph& graph);

struct FoldOptions {
  // Op types never folded (DequantizeLinear on int8 weights must stay for QDQ lowering).
  std::set<std::string> keep_op_types = {"DequantizeLinear", "QuantizeLinear",
                                         "DynamicQuantizeLinear"};
  // Results larger than this stay computed at run time (an Expand to a large shape).
  size_t max_folded_bytes = size_t{64} << 20;
};
// Infers shapes and replaces every node whose inputs are all known (including Shape of a value
// whose shape is known) by initializers. Returns the number of nodes folded.
int fold_constants(Graph& graph, const FoldOptions& options = {});

// Resolves the constant chains other tools' QDQ files put between a constant and its reader, so
// that QDQ lowering sees DequantizeLinear(constant) where a float op reads it: bypasses Identity
// and same-type Cast nodes, folds constants (QuantizeLinear of constants included, DQ kept), moves
// data movement (Transpose, Reshape, Squeeze, Unsqueeze, Flatten) of a dequantized constant before
// its DequantizeLinear. Returns the number of nodes bypassed, folded or moved. lower_qdq() runs it
// first.
int see_through_constants(Graph& graph);

// Moves a per-tensor DequantizeLinear below MaxPool and the ops that only move elements (Flatten,
// Reshape, Transpose, Squeeze, Unsqueeze, Identity) when their result is not quantized again, so
// that the op runs on the 8-bit data and its readers see a DequantizeLinear (eq. (132)). Expects
// a topologically sorted graph; returns the number of DequantizeLinear nodes moved. lower_qdq()
// runs it.
int sink_dequantize(Graph& graph);

// Gives the operands of a quantized Mul (DQ, DQ -> Mul -> Q) the result's 8-bit type where they
// differ, at their QuantizeLinear, when only DequantizeLinear nodes read it: uint8 q with zero
// point z becomes int8 q − 128 with z − 128 (or back), the same real values (eq. (151)). Returns
// the number of values retyped. lower_qdq() runs it.
int retype_quantized_operands(Graph& graph);

// Removes nodes no graph output depends on, then unused initializers and value infos. Returns
// the number of nodes removed.
int eliminate_dead_nodes(Graph& graph);

// float16/bfloat16 models on float32 kernels: every node that reads a half-precision value reads
// it through a Cast to float32, and its float32 outputs are Cast back to that type, so values keep
// the file's types and rounding (Cast, CastLike, Shape, Size excepted). kInvalidModel when a node
// mixes float16 and bfloat16. Returns the number of nodes wrapped.
int compute_half_in_float(Graph& graph);

// Folds inference-mode BatchNormalization into a preceding Conv or Gemm whose weights are
// constant and whose output feeds only the BatchNormalization. Returns the number folded.
int fold_batch_norms(Graph& graph);

// What the lowering of QDQ patterns onto integer ops did to a graph (the runtime lowers every QDQ
// model when it plans; quench/inspect.h reports it): the units it lowered and the compute nodes it
// left in float, with why.
struct LoweringReport {
  struct FloatNode {
    std::string node;
    std::string op_type;
    std::string reason;  // "no integer kernel", "weights not constant", ...
  };
  std::vector<FloatNode> float_nodes;
  std::map<std::string, int> lowered;  // "Conv -> QLinearConv" -> number of units
  int units = 0;
};

// Gives graph inputs these concrete shapes (checked against the declared ones: rank and fixed
// dims must agree), then folds constants. kInvalidArgument naming the input on a mismatch.
void specialize_input_shapes(Graph& graph, const std::map<std::string, Shape>& shapes);

}  // namespace quench

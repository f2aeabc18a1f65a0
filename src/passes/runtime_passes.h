// Rewrites the runtime applies to its own copy of a graph (never exported).
#pragma once

#include <string>
#include <vector>

#include "quench/passes.h"

namespace quench {

// Shape-independent optimizations done once when a session is created (batch-norm folding).
void apply_graph_optimizations(Graph& graph);

// Replaces the exact-GELU pattern PyTorch exports by one internal Gelu node. Returns the number
// replaced.
int fuse_gelu(Graph& graph);

// Replaces Mul(x, Sigmoid(x)) (the Sigmoid read by that Mul alone) by one internal Swish node.
// Returns the number replaced.
int fuse_swish(Graph& graph);

// MatMulInteger -> Cast(float) -> Mul(s) [-> Add(constant bias)] (a dynamic quantizer's linear
// layer) becomes one com.microsoft MatMulIntegerToFloat computing the same floats (eq. (155)).
// Returns the number fused.
int fuse_matmul_integer_to_float(Graph& graph);

// QLinearMul(x, QLookup(x, t)) with constant per-tensor parameters — a quantized x·f(x), swish's
// x·sigmoid(x) — becomes one QLookup of x whose table is that product at each of x's 256 values,
// evaluated by the reference QLinearMul (bit-exact with the pair; docs/quantization.md eq. (149)).
// Returns the number fused; the QLookup left without readers is dead.
int fuse_lookup_products(Graph& graph);

// Turns a Conv, Gemm or MatMul into its internal fused form (ops/fused.h); no-op when fused.
void make_fused(Node& node, Graph& graph);

// Products whose operands are float32 Casts of bfloat16 values (a --mode bf16 file's rounded
// operands, eq. (158)) read the bfloat16 values instead, their constant weights staying float32
// where every weight is a bfloat16 value. Returns the number of products changed.
int read_bfloat16_operands(Graph& graph);

// A fused product read only by a Cast to bfloat16 writes bfloat16 (attribute `to`) and the Cast
// goes. Returns the number of Casts absorbed.
int write_bfloat16_results(Graph& graph);

struct RuntimeFusionOptions {
  // Products on bfloat16 operands where a file rounds them (read_bfloat16_operands,
  // write_bfloat16_results): for CPUs whose bfloat16 dot product is faster than float32 FMA.
  bool bf16_products = false;
};

// Fusions done per input-shape signature, once shapes are concrete: x·f(x) lookups
// (fuse_lookup_products), integer products to float (fuse_matmul_integer_to_float), activations and
// residual adds into the producing Conv/Gemm/MatMul, bfloat16 products when asked.
void apply_runtime_fusions(Graph& graph, const RuntimeFusionOptions& options = {});

// Lowers QDQ patterns (DequantizeLinear inputs -> float op -> QuantizeLinear) onto integer ops:
// QLinearConv / QFusedConv, QLinearMatMul / QFusedMatMul, com.microsoft QLinearAdd, QLinearMul,
// QLinearConcat, QLinear(Global)AveragePool, element-wise functions as QLookup tables, and
// MaxPool and data-movement ops on the 8-bit data itself (docs/quantization.md, "Lowering QDQ to
// integer ops"). Then folds what is left constant (DequantizeLinear of weights kept in float).
// Runs on a shape-specialized graph, before apply_runtime_fusions.
LoweringReport lower_qdq(Graph& graph);

// Rewrites DequantizeLinear(int8 W), DequantizeLinear(int8 R) -> GRU (symmetric weights, scales
// per tensor, direction or gate row; layout 0; constant B) into the internal DynamicQuantizeGRU
// (ops/quantized/dynamic_gru.h), in place. Returns, per node, why a GRU stays float ("" for the
// rewritten ones and for other nodes). Called by lower_qdq.
std::vector<std::string> lower_dynamic_gru(Graph& graph);

}  // namespace quench

// Rewrites the runtime applies to its own copy of a graph (never exported).
#pragma once

#include "quench/graph.h"

namespace quench {

// Shape-independent optimizations done once when a session is created (batch-norm folding).
void apply_graph_optimizations(Graph& graph);

// Replaces the exact-GELU pattern PyTorch exports by one internal Gelu node. Returns the number
// replaced.
int fuse_gelu(Graph& graph);

// Fusions done per input-shape signature, once shapes are concrete: activations and residual
// adds into the producing Conv/Gemm/MatMul.
void apply_runtime_fusions(Graph& graph);

}  // namespace quench

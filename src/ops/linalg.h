// Gemm and MatMul attributes and geometry, shared by the reference and oneDNN kernels.
#pragma once

#include "quench/graph.h"

namespace quench {

struct GemmAttrs {
  bool trans_a = false;
  bool trans_b = false;
  float alpha = 1.f;
  float beta = 1.f;
};

GemmAttrs gemm_attrs(const Node& node);

// MatMul with numpy semantics on concrete shapes: a 1-D A is read as [1,K] and a 1-D B as [K,1]
// (that dim is then dropped from the output); the batch dims broadcast.
struct MatMulGeometry {
  Shape output;  // the result's shape
  Shape batch;   // broadcast batch dims (the output's leading dims)
  int64_t M = 1, N = 1, K = 0;
  // Element strides of A's and B's matrices along `batch` (0 where that operand broadcasts).
  Shape a_batch_strides;
  Shape b_batch_strides;
};

// kInvalidModel naming `node` when the inner or batch dims do not match.
MatMulGeometry matmul_geometry(const Shape& a, const Shape& b, const Node& node);

// MatMul's output shape (numpy semantics) for symbolic shapes, shared by MatMul, MatMulInteger
// and QLinearMatMul; kInvalidModel naming `node` when the inner or batch dims differ.
SymbolicShape matmul_shape(const Node& node, const SymbolicShape& a, const SymbolicShape& b);

}  // namespace quench

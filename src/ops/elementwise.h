// Shared pieces of the element-wise op family (src/ops/elementwise*.cc, src/ops/cast.cc).
#pragma once

#include <cstddef>

#include "ops/op_registry.h"

namespace quench::elementwise {

// Base of the op functors that read no attribute (they are all built from the node).
struct NoAttributes {
  explicit NoAttributes(const Node&) {}
};

// Output 0 has the type and shape of input 0.
void infer_same_as_input(InferContext& ctx);
// Output 0 is bool, with the shape of input 0.
void infer_bool_like_input(InferContext& ctx);

// The element type shared by inputs [first, first + count) (kUndefined while none is known);
// fails naming both types when two of them differ.
DType common_input_type(const InferContext& ctx, size_t first, size_t count);
// Sets output 0's shape to the numpy broadcast of inputs [first, first + count) when all their
// ranks are known; fails when two shapes cannot broadcast.
void infer_broadcast_shape(InferContext& ctx, size_t first, size_t count);

// The broadcast shape of inputs [first, first + count), checked against output 0.
Shape broadcast_output_shape(const KernelContext& ctx, size_t first, size_t count);
// The input that output 0 may share its buffer with (same shape, `out_type`), or -1.
int inplace_candidate(const KernelContext& ctx, size_t count, DType out_type);
// kUnsupported: "element type X is not supported (expected <classes>)".
[[noreturn]] void fail_dtype(const KernelContext& ctx, DType got, unsigned accepted_classes);

void register_unary_ops(OpRegistry& r);
void register_binary_ops(OpRegistry& r);
void register_cast_ops(OpRegistry& r);

}  // namespace quench::elementwise

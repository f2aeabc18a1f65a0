// Shape-manipulation ops (Reshape, Transpose, Concat, Slice, Gather, Shape, ...).
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "quench/graph.h"

namespace quench {

class InferContext;
class OpRegistry;
struct KernelContext;

// The value of a Shape node (with its start/end attributes) for an input of shape `input`.
Tensor evaluate_shape_op(const Node& node, const Shape& input);

// The ops of the default domain that only move their data input's elements (Reshape, Flatten,
// Transpose, Squeeze, Unsqueeze, Identity, Concat, Slice, Split, Gather): their kernels move them
// by size, so they run on any element type and commute with an element-wise rounding.
const std::set<std::string>& element_moving_ops();

// Helpers shared by the shape_ops*.cc files.
namespace shape_ops {

// Registration of each group (register_shape_ops calls them all).
void register_reshape_ops(OpRegistry& r);  // Reshape, Flatten, Squeeze, Unsqueeze
void register_layout_ops(OpRegistry& r);   // Transpose, DepthToSpace, SpaceToDepth, Expand, Tile
void register_slice_ops(OpRegistry& r);    // Slice, Pad
void register_concat_ops(OpRegistry& r);   // Concat, Split
void register_gather_ops(OpRegistry& r);   // Gather, GatherElements

// The values of input `i` when it is a known integer tensor (int32 or int64), else nullopt.
std::optional<std::vector<int64_t>> constant_ints(const InferContext& ctx, size_t i);
std::optional<std::vector<int64_t>> constant_ints(const KernelContext& ctx, size_t i);

// `rank` dims of unknown size: what inference knows when only the rank is known.
SymbolicShape unknown_dims(size_t rank);

// The product of `dims`: known when all are; a single symbolic dim times known 1s keeps its name
// (Flatten of [N, C, 1, 1] at axis 1 is [N, C]).
Dim dims_product(std::span<const Dim> dims);

// Bytes per element of `dtype`; kUnsupported naming the node for types without a fixed size.
size_t element_bytes(const KernelContext& ctx, DType dtype);

// A scalar of `dtype` holding `value` (converted as static_cast does; floats round to nearest).
Tensor scalar_of_type(double value, DType dtype);

// Reads element `i` of `data` (of element type `dtype`) as int64 / double.
int64_t load_int(const void* data, DType dtype, int64_t i);
double load_double(const void* data, DType dtype, int64_t i);

// Whether `values` (normalized axes) contains a value twice.
bool has_duplicates(std::vector<int64_t> values);

}  // namespace shape_ops
}  // namespace quench

// Shape checks and kernel geometry of Conv and ConvTranspose, shared with the pooling ops and
// with the fast convolution kernels (which must accept exactly what the reference accepts).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kernels/ref/conv.h"
#include "ops/conv_params.h"
#include "quench/graph.h"

namespace quench {

struct KernelContext;

// "5x5"; "?" for an unknown (negative) size.
std::string dims_str(const std::vector<int64_t>& dims);

// Spatial sizes of a [N, C, spatial...] shape, -1 where unknown.
std::vector<int64_t> spatial_sizes(const SymbolicShape& shape);

// kInvalidModel naming `node` when `shape` (of input `what`) has fewer than 3 dims.
void check_window_input_rank(const Node& node, const char* what, const SymbolicShape& shape);

// kInvalidModel naming `node` when the (dilated) window is larger than the padded input along a
// known dim: "kernel 5x5 is larger than the padded input 3x3".
void check_window_fits(const Node& node, const WindowParams& p,
                       const std::vector<int64_t>& input_spatial);

// Conv output shape from the shapes of X, W and B (each nullptr when unknown or absent), after
// checking them against each other and the attributes; nullopt when even the rank is unknown.
std::optional<SymbolicShape> conv_output_shape(const Node& node, const SymbolicShape* x,
                                               const SymbolicShape* w, const SymbolicShape* b);

// ConvTranspose output shape, likewise (W is [C, M / group, kernel...]).
std::optional<SymbolicShape> conv_transpose_output_shape(const Node& node, const SymbolicShape* x,
                                                         const SymbolicShape* w,
                                                         const SymbolicShape* b);

// kInternal unless output `i` of `ctx` was planned with the shape [batch_and_channels...,
// spatial...] that the kernel will write (shape inference and the factory must agree).
void check_planned_output(const KernelContext& ctx, size_t i, const Shape& batch_and_channels,
                          const std::vector<int64_t>& spatial);

// Geometry of a Conv / ConvTranspose node for concrete shapes (`b` nullptr when there is no
// bias); the same checks as the *_output_shape functions.
ref::ConvGeometry conv_geometry(const Node& node, const Shape& x, const Shape& w, const Shape* b);
ref::ConvGeometry conv_transpose_geometry(const Node& node, const Shape& x, const Shape& w,
                                          const Shape* b);

}  // namespace quench

// Shape helpers shared by shape inference and kernels.
#pragma once

#include <optional>

#include "quench/graph.h"

namespace quench {

// Numpy-style multidirectional broadcasting; nullopt when the shapes are incompatible.
std::optional<SymbolicShape> broadcast_shapes(const SymbolicShape& a, const SymbolicShape& b);
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b);

// Maps a possibly negative axis into [0, rank); kInvalidModel naming `node` when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node);

// Row-major strides of `shape` (in elements).
Shape strides_of(const Shape& shape);

}  // namespace quench

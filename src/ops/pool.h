// Window geometry of the pooling ops, shared with fast pooling kernels (which must accept exactly
// what the reference accepts).
#pragma once

#include "kernels/ref/pool.h"
#include "quench/graph.h"

namespace quench {

// Geometry of a MaxPool / AveragePool / LpPool node for input shape `x`, after the checks of
// shape inference (kInvalidModel naming the node).
ref::PoolGeometry pool_geometry(const Node& node, const Shape& x);

}  // namespace quench

// The oneDNN engine and per-thread stream shared by every oneDNN kernel.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include "quench/dtype.h"
#include "quench/tensor.h"

namespace quench::onednn {

dnnl::engine& engine();
// A stream for the calling thread (oneDNN streams are not shared between threads).
dnnl::stream& stream();

// oneDNN's data type for `t`, or undef when oneDNN has none.
dnnl::memory::data_type to_dnnl(DType t);
dnnl::memory::dims to_dims(const Shape& shape);
// Plain row-major descriptor ("abcd...") for `shape`.
dnnl::memory::desc plain_desc(DType t, const Shape& shape);

}  // namespace quench::onednn

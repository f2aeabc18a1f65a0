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
// quench's type for oneDNN's `t`, or kUndefined.
DType from_dnnl(dnnl::memory::data_type t);
dnnl::memory::dims to_dims(const Shape& shape);
// Plain row-major descriptor ("abcd...") for `shape`.
dnnl::memory::desc plain_desc(DType t, const Shape& shape);

// Whether oneDNN's int8 convolutions and matrix products give the exact int32 sums here: they do
// where its effective ISA (the CPU, capped by ONEDNN_MAX_CPU_ISA) has VNNI (AVX512_VNNI, AVX-VNNI,
// AMX). Without VNNI they add u8 x s8 products in int16 pairs that saturate, or halve the weights
// of a convolution; quench's int8 products then run on exact kernels instead.
bool int8_products_exact();

// Whether oneDNN runs int8 kernels on AMX tiles here (the CPU has them and ONEDNN_MAX_CPU_ISA
// allows them).
bool uses_amx();

}  // namespace quench::onednn

// The oneDNN engine and per-thread stream shared by every oneDNN kernel.
#pragma once

#include <oneapi/dnnl/dnnl.hpp>

#include <array>
#include <initializer_list>
#include <unordered_map>
#include <utility>

#include "quench/dtype.h"
#include "quench/tensor.h"

namespace quench::onednn {

dnnl::engine& engine();
// A stream for the calling thread (oneDNN streams are not shared between threads).
dnnl::stream& stream();

// The arguments of one primitive execution, kept in a fixed array and handed to oneDNN's C API:
// dnnl::primitive::execute copies its map into a new vector on every call, and a map built per
// run is itself allocated, which costs several percent of a small model's run (vit at batch 1).
class ExecArgs {
 public:
  ExecArgs(std::initializer_list<std::pair<int, const dnnl::memory*>> args);
  // The arguments of a map built once (a kernel's state).
  explicit ExecArgs(const std::unordered_map<int, dnnl::memory>& args);
  void add(int id, const dnnl::memory& m);
  // Runs `p` on stream() with these arguments.
  void execute(const dnnl::primitive& p) const;

 private:
  static constexpr int kMax = 16;
  std::array<dnnl_exec_arg_t, kMax> args_{};
  int count_ = 0;
};

// Runs `p` on stream() with `args`, without allocating (ExecArgs).
void execute(const dnnl::primitive& p,
             std::initializer_list<std::pair<int, const dnnl::memory*>> args);
void execute(const dnnl::primitive& p, const std::unordered_map<int, dnnl::memory>& args);

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

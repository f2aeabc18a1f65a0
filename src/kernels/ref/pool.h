// Reference pooling kernels over [N, C, spatial...] tensors, any spatial rank up to
// kMaxSpatialRank. Averages and Lp norms accumulate in double (see conv()).
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/ref/conv.h"

namespace quench::ref {

// Output position `o` pools input positions o * stride - pads_begin + tap * dilation; taps in the
// padding are skipped (or, for count_include_pad, counted as zeros).
struct PoolGeometry {
  int64_t planes = 0;            // batch * channels
  std::vector<int64_t> in_size;  // spatial dims only, as are the vectors below
  std::vector<int64_t> out_size;
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;
  std::vector<int64_t> pads_end;

  int spatial_rank() const { return static_cast<int>(kernel.size()); }
};

// MaxPool. `indices` (may be nullptr) receives each maximum's position in the flattened input,
// with the spatial part in row-major order, or column-major when `column_major_indices`
// (storage_order 1). The first maximum wins, and a NaN beats any number; a window entirely in the
// padding gives the type's lowest value and index -1.
template <class T>
void max_pool(const PoolGeometry& g, const T* x, T* y, int64_t* indices, bool column_major_indices);

// AveragePool: the divisor counts the taps inside the input, or with `count_include_pad` also
// those in the explicit padding (never those past it, which ceil_mode may add). An empty window
// gives 0.
template <class T>
void average_pool(const PoolGeometry& g, const T* x, T* y, bool count_include_pad);

// LpPool: (sum |x|^p)^(1/p) over the taps inside the input (padding adds zeros).
template <class T>
void lp_pool(const PoolGeometry& g, const T* x, T* y, double p);

// Global pools reduce each of `planes` planes of `plane_size` elements to one value.
template <class T>
void global_average_pool(int64_t planes, int64_t plane_size, const T* x, T* y);
template <class T>
void global_max_pool(int64_t planes, int64_t plane_size, const T* x, T* y);
template <class T>
void global_lp_pool(int64_t planes, int64_t plane_size, const T* x, T* y, double p);

}  // namespace quench::ref

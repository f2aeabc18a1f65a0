// Reference convolution and transposed convolution: direct loop nests over [N, C, spatial...]
// tensors, the oracle every fast convolution is tested against.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

namespace quench::ref {

// The N-D paths index with fixed-size arrays so that run() never allocates.
inline constexpr int kMaxSpatialRank = 8;
using SpatialIndex = std::array<int64_t, kMaxSpatialRank>;

// Geometry of Y = conv(X, W): X [batch, in_channels, in_size...], W [out_channels,
// in_channels / group, kernel...], Y [batch, out_channels, out_size...]. Output position `o` reads
// input positions o * stride - pads_begin + tap * dilation. ConvTranspose uses the same fields with
// W [in_channels, out_channels / group, kernel...]: input position `i` and tap `k` write output
// position i * stride - pads_begin + k * dilation.
struct ConvGeometry {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  std::vector<int64_t> in_size;  // spatial dims only, as are the vectors below
  std::vector<int64_t> out_size;
  std::vector<int64_t> kernel;
  std::vector<int64_t> strides;
  std::vector<int64_t> dilations;
  std::vector<int64_t> pads_begin;

  int spatial_rank() const { return static_cast<int>(kernel.size()); }
};

// The taps [begin, end) of a window of `kernel` taps spaced `dilation` apart, starting at
// coordinate `origin`, that land inside [0, size).
struct TapRange {
  int64_t begin;
  int64_t end;
};
inline TapRange valid_taps(int64_t origin, int64_t dilation, int64_t kernel, int64_t size) {
  const int64_t begin = origin >= 0 ? 0 : (-origin + dilation - 1) / dilation;
  const int64_t end = size <= origin ? 0 : (size - origin + dilation - 1) / dilation;
  const int64_t clamped_end = std::min(end, kernel);
  return {std::min(begin, clamped_end), clamped_end};
}

// Row-major strides of the spatial dims `size`.
inline SpatialIndex spatial_strides(const std::vector<int64_t>& size) {
  SpatialIndex strides{};
  int64_t stride = 1;
  for (int d = static_cast<int>(size.size()) - 1; d >= 0; --d) {
    strides[d] = stride;
    stride *= size[d];
  }
  return strides;
}

// Advances the row-major multi-index `index` within [begin, end) over `rank` dims; false once it
// wraps around past the last position.
inline bool next_index(SpatialIndex& index, const SpatialIndex& begin, const SpatialIndex& end,
                       int rank) {
  for (int d = rank - 1; d >= 0; --d) {
    if (++index[d] < end[d]) return true;
    index[d] = begin[d];
  }
  return false;
}

// Y = conv(X, W) + bias; `bias` may be nullptr. Spatial ranks 1 and 2 run a plain 2-D loop nest,
// higher ranks (up to kMaxSpatialRank) the general N-D one. Sums accumulate in double: as the
// oracle of the fast kernels, the reference errs only by the final rounding to T.
template <class T>
void conv(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);

// The N-D path of conv(), exposed so that tests can check it against the 2-D one.
template <class T>
void conv_nd(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);

// Y = conv_transpose(X, W) + bias (see ConvGeometry); any spatial rank up to kMaxSpatialRank.
// Accumulates in T, in the output buffer.
template <class T>
void conv_transpose(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y);

}  // namespace quench::ref

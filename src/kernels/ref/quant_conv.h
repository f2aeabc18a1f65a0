// Reference integer convolution and the centering of quantized operands it runs on: the exact
// int64 sums every integer convolution shares (ConvInteger, QLinearConv), handed to an epilogue
// that writes them (int32) or requantizes them (u8/s8). docs/quantization.md, eqs. (33), (34).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/ref/conv.h"

namespace quench::ref {

// out[i] = q[i] − zero_point. For u8/s8 values and a zero point of the same type the difference
// lies in [−255, 255], so int16 holds it exactly.
template <class Q>
void center(const Q* q, int64_t count, int32_t zero_point, int16_t* out) {
  for (int64_t i = 0; i < count; ++i) out[i] = static_cast<int16_t>(q[i] - zero_point);
}

// Y = conv(X, W) on centered operands (X − z_x and W − z_w, per output channel for W), with the
// geometry of ConvGeometry, lowered to a matrix product: for each image and group, im2col gathers
// the window of every output position into `columns` [K, out_plane] (K = in_channels / group ·
// kernel taps), taps in the padding reading 0 (ONNX pads with the zero point, whose centered value
// is 0); then each output channel's filter row [K] is multiplied into `sums` [out_plane].
// `store(out_channel, out_offset, sum)` receives each output's exact sum, out_offset indexing Y
// [batch, out_channels, out_size...]. `scratch` holds conv_centered_scratch_bytes(g) bytes.
//
// Overflow: each product is at most 255 · 255 < 2^16 in magnitude and a sum has fewer than 2^36
// terms, so the int64 sums are exact (eq. (34)); the epilogue narrows them.
inline size_t conv_centered_scratch_bytes(const ConvGeometry& g) {
  int64_t out_plane = 1, taps = 1;
  for (int d = 0; d < g.spatial_rank(); ++d) {
    out_plane *= g.out_size[d];
    taps *= g.kernel[d];
  }
  const int64_t k = g.in_channels / g.group * taps;
  const size_t columns = (static_cast<size_t>(k * out_plane) * sizeof(int16_t) + 63) / 64 * 64;
  return columns + static_cast<size_t>(out_plane) * sizeof(int64_t);
}

template <class Store>
void conv_centered(const ConvGeometry& g, const int16_t* x, const int16_t* w, void* scratch,
                   Store&& store) {
  const int rank = g.spatial_rank();
  int64_t in_plane = 1, out_plane = 1, taps = 1;
  for (int d = 0; d < rank; ++d) {
    in_plane *= g.in_size[d];
    out_plane *= g.out_size[d];
    taps *= g.kernel[d];
  }
  const SpatialIndex in_strides = spatial_strides(g.in_size);
  const int64_t in_channels_per_group = g.in_channels / g.group;
  const int64_t out_channels_per_group = g.out_channels / g.group;
  const int64_t k_size = in_channels_per_group * taps;
  int16_t* columns = static_cast<int16_t*>(scratch);
  const size_t columns_bytes =
      (static_cast<size_t>(k_size * out_plane) * sizeof(int16_t) + 63) / 64 * 64;
  int64_t* sums = reinterpret_cast<int64_t*>(static_cast<char*>(scratch) + columns_bytes);
  SpatialIndex zero{}, kernel_end{}, out_end{};
  for (int d = 0; d < rank; ++d) {
    kernel_end[d] = g.kernel[d];
    out_end[d] = g.out_size[d];
  }

  for (int64_t batch = 0; batch < g.batch; ++batch) {
    for (int64_t group = 0; group < g.group; ++group) {
      // im2col: row k = (in_channel, tap) of the group, column = output position.
      const int16_t* x_group =
          x + (batch * g.in_channels + group * in_channels_per_group) * in_plane;
      int16_t* column = columns;
      for (int64_t in_channel = 0; in_channel < in_channels_per_group; ++in_channel) {
        const int16_t* x_plane = x_group + in_channel * in_plane;
        SpatialIndex tap = zero;
        do {
          SpatialIndex out_pos = zero;
          do {
            int64_t offset = 0;
            bool inside = true;
            for (int d = 0; d < rank; ++d) {
              const int64_t in =
                  out_pos[d] * g.strides[d] - g.pads_begin[d] + tap[d] * g.dilations[d];
              inside &= in >= 0 && in < g.in_size[d];
              offset += in * in_strides[d];
            }
            *column++ = inside ? x_plane[offset] : int16_t{0};
          } while (next_index(out_pos, zero, out_end, rank));
        } while (next_index(tap, zero, kernel_end, rank));
      }
      for (int64_t group_channel = 0; group_channel < out_channels_per_group; ++group_channel) {
        const int64_t out_channel = group * out_channels_per_group + group_channel;
        const int16_t* filter = w + out_channel * k_size;
        std::fill(sums, sums + out_plane, int64_t{0});
        for (int64_t k = 0; k < k_size; ++k) {
          const int32_t weight = filter[k];
          const int16_t* row = columns + k * out_plane;
          for (int64_t p = 0; p < out_plane; ++p) sums[p] += weight * row[p];
        }
        const int64_t y_plane = (batch * g.out_channels + out_channel) * out_plane;
        for (int64_t p = 0; p < out_plane; ++p) store(out_channel, y_plane + p, sums[p]);
      }
    }
  }
}

}  // namespace quench::ref

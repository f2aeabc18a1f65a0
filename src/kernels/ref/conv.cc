#include "kernels/ref/conv.h"

#include "quench/tensor.h"

namespace quench::ref {
namespace {

// Ranks 1 and 2; a 1-D convolution runs as a 2-D one of height 1.
template <class T>
void conv_2d(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const bool is_1d = g.spatial_rank() == 1;
  const int64_t in_height = is_1d ? 1 : g.in_size[0], in_width = g.in_size.back();
  const int64_t out_height = is_1d ? 1 : g.out_size[0], out_width = g.out_size.back();
  const int64_t filter_height = is_1d ? 1 : g.kernel[0], filter_width = g.kernel.back();
  const int64_t stride_y = is_1d ? 1 : g.strides[0], stride_x = g.strides.back();
  const int64_t dilation_y = is_1d ? 1 : g.dilations[0], dilation_x = g.dilations.back();
  const int64_t pad_top = is_1d ? 0 : g.pads_begin[0], pad_left = g.pads_begin.back();
  const int64_t in_channels_per_group = g.in_channels / g.group;
  const int64_t out_channels_per_group = g.out_channels / g.group;
  const int64_t in_plane = in_height * in_width;
  const int64_t filter_plane = filter_height * filter_width;

  for (int64_t out_batch = 0; out_batch < g.batch; ++out_batch) {
    for (int64_t out_channel = 0; out_channel < g.out_channels; ++out_channel) {
      const int64_t group = out_channel / out_channels_per_group;
      const T* x_group = x + (out_batch * g.in_channels + group * in_channels_per_group) * in_plane;
      const T* w_filter = w + out_channel * in_channels_per_group * filter_plane;
      T* y_plane = y + (out_batch * g.out_channels + out_channel) * out_height * out_width;
      const double bias_value = bias != nullptr ? bias[out_channel] : 0.0;
      for (int64_t out_y = 0; out_y < out_height; ++out_y) {
        const int64_t in_y_origin = out_y * stride_y - pad_top;
        const TapRange rows = valid_taps(in_y_origin, dilation_y, filter_height, in_height);
        for (int64_t out_x = 0; out_x < out_width; ++out_x) {
          const int64_t in_x_origin = out_x * stride_x - pad_left;
          const TapRange cols = valid_taps(in_x_origin, dilation_x, filter_width, in_width);
          double sum = 0;
          for (int64_t in_channel = 0; in_channel < in_channels_per_group; ++in_channel) {
            const T* x_plane = x_group + in_channel * in_plane;
            const T* w_plane = w_filter + in_channel * filter_plane;
            for (int64_t filter_y = rows.begin; filter_y < rows.end; ++filter_y) {
              const T* x_row = x_plane + (in_y_origin + filter_y * dilation_y) * in_width;
              const T* w_row = w_plane + filter_y * filter_width;
              for (int64_t filter_x = cols.begin; filter_x < cols.end; ++filter_x) {
                sum += static_cast<double>(x_row[in_x_origin + filter_x * dilation_x]) *
                       w_row[filter_x];
              }
            }
          }
          y_plane[out_y * out_width + out_x] = static_cast<T>(sum + bias_value);
        }
      }
    }
  }
}

}  // namespace

template <class T>
void conv_nd(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int rank = g.spatial_rank();
  const int64_t in_plane = shape_numel(g.in_size);
  const int64_t out_plane = shape_numel(g.out_size);
  const int64_t filter_plane = shape_numel(g.kernel);
  const SpatialIndex in_strides = spatial_strides(g.in_size);
  const SpatialIndex filter_strides = spatial_strides(g.kernel);
  SpatialIndex out_begin{}, out_end{};
  std::copy(g.out_size.begin(), g.out_size.end(), out_end.begin());
  const int64_t in_channels_per_group = g.in_channels / g.group;
  const int64_t out_channels_per_group = g.out_channels / g.group;

  for (int64_t out_batch = 0; out_batch < g.batch; ++out_batch) {
    for (int64_t out_channel = 0; out_channel < g.out_channels; ++out_channel) {
      const int64_t group = out_channel / out_channels_per_group;
      const T* x_group = x + (out_batch * g.in_channels + group * in_channels_per_group) * in_plane;
      const T* w_filter = w + out_channel * in_channels_per_group * filter_plane;
      T* y_plane = y + (out_batch * g.out_channels + out_channel) * out_plane;
      const double bias_value = bias != nullptr ? bias[out_channel] : 0.0;
      SpatialIndex out_pos = out_begin;
      for (int64_t out_index = 0; out_index < out_plane; ++out_index) {
        // The window's origin in the input and its taps that land inside the input.
        SpatialIndex in_origin{}, tap_begin{}, tap_end{};
        bool empty = false;
        for (int d = 0; d < rank; ++d) {
          in_origin[d] = out_pos[d] * g.strides[d] - g.pads_begin[d];
          const TapRange taps = valid_taps(in_origin[d], g.dilations[d], g.kernel[d], g.in_size[d]);
          tap_begin[d] = taps.begin;
          tap_end[d] = taps.end;
          empty |= taps.begin == taps.end;
        }
        double sum = 0;
        for (int64_t in_channel = 0; in_channel < in_channels_per_group && !empty; ++in_channel) {
          const T* x_plane = x_group + in_channel * in_plane;
          const T* w_plane = w_filter + in_channel * filter_plane;
          SpatialIndex tap = tap_begin;
          do {
            int64_t x_offset = 0, w_offset = 0;
            for (int d = 0; d < rank; ++d) {
              x_offset += (in_origin[d] + tap[d] * g.dilations[d]) * in_strides[d];
              w_offset += tap[d] * filter_strides[d];
            }
            sum += static_cast<double>(x_plane[x_offset]) * w_plane[w_offset];
          } while (next_index(tap, tap_begin, tap_end, rank));
        }
        y_plane[out_index] = static_cast<T>(sum + bias_value);
        next_index(out_pos, out_begin, out_end, rank);
      }
    }
  }
}

template <class T>
void conv(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  if (g.spatial_rank() <= 2) {
    conv_2d(g, x, w, bias, y);
  } else {
    conv_nd(g, x, w, bias, y);
  }
}

// Scatters every input element through the filter: simpler than gathering, since the output
// positions an input element reaches are a plain strided window.
template <class T>
void conv_transpose(const ConvGeometry& g, const T* x, const T* w, const T* bias, T* y) {
  const int rank = g.spatial_rank();
  const int64_t in_plane = shape_numel(g.in_size);
  const int64_t out_plane = shape_numel(g.out_size);
  const int64_t filter_plane = shape_numel(g.kernel);
  const SpatialIndex out_strides = spatial_strides(g.out_size);
  const SpatialIndex filter_strides = spatial_strides(g.kernel);
  SpatialIndex in_begin{}, in_end{};
  std::copy(g.in_size.begin(), g.in_size.end(), in_end.begin());
  const int64_t in_channels_per_group = g.in_channels / g.group;
  const int64_t out_channels_per_group = g.out_channels / g.group;

  for (int64_t batch = 0; batch < g.batch; ++batch) {
    for (int64_t out_channel = 0; out_channel < g.out_channels; ++out_channel) {
      T* y_plane = y + (batch * g.out_channels + out_channel) * out_plane;
      std::fill(y_plane, y_plane + out_plane, bias != nullptr ? bias[out_channel] : T(0));
    }
    for (int64_t in_channel = 0; in_channel < g.in_channels; ++in_channel) {
      const int64_t group = in_channel / in_channels_per_group;
      const T* x_plane = x + (batch * g.in_channels + in_channel) * in_plane;
      for (int64_t group_out_channel = 0; group_out_channel < out_channels_per_group;
           ++group_out_channel) {
        const int64_t out_channel = group * out_channels_per_group + group_out_channel;
        const T* w_plane =
            w + (in_channel * out_channels_per_group + group_out_channel) * filter_plane;
        T* y_plane = y + (batch * g.out_channels + out_channel) * out_plane;
        SpatialIndex in_pos = in_begin;
        for (int64_t in_index = 0; in_index < in_plane; ++in_index) {
          SpatialIndex out_origin{}, tap_begin{}, tap_end{};
          bool empty = false;
          for (int d = 0; d < rank; ++d) {
            out_origin[d] = in_pos[d] * g.strides[d] - g.pads_begin[d];
            const TapRange taps =
                valid_taps(out_origin[d], g.dilations[d], g.kernel[d], g.out_size[d]);
            tap_begin[d] = taps.begin;
            tap_end[d] = taps.end;
            empty |= taps.begin == taps.end;
          }
          const T value = x_plane[in_index];
          SpatialIndex tap = tap_begin;
          if (!empty) {
            do {
              int64_t y_offset = 0, w_offset = 0;
              for (int d = 0; d < rank; ++d) {
                y_offset += (out_origin[d] + tap[d] * g.dilations[d]) * out_strides[d];
                w_offset += tap[d] * filter_strides[d];
              }
              y_plane[y_offset] += value * w_plane[w_offset];
            } while (next_index(tap, tap_begin, tap_end, rank));
          }
          next_index(in_pos, in_begin, in_end, rank);
        }
      }
    }
  }
}

template void conv<float>(const ConvGeometry&, const float*, const float*, const float*, float*);
template void conv<double>(const ConvGeometry&, const double*, const double*, const double*,
                           double*);
template void conv_nd<float>(const ConvGeometry&, const float*, const float*, const float*, float*);
template void conv_nd<double>(const ConvGeometry&, const double*, const double*, const double*,
                              double*);
template void conv_transpose<float>(const ConvGeometry&, const float*, const float*, const float*,
                                    float*);
template void conv_transpose<double>(const ConvGeometry&, const double*, const double*,
                                     const double*, double*);

}  // namespace quench::ref

#include "kernels/ref/pool.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "quench/tensor.h"

namespace quench::ref {
namespace {

// One output element's window: its origin in the input and, per dim, its taps inside the input.
struct Window {
  SpatialIndex origin{};
  SpatialIndex tap_begin{};
  SpatialIndex tap_end{};
  int64_t taps_in_input = 1;
  int64_t taps_in_padded = 1;  // also counting the taps in the explicit padding
};

Window window_at(const PoolGeometry& g, const SpatialIndex& out_pos) {
  Window window;
  for (int d = 0; d < g.spatial_rank(); ++d) {
    window.origin[d] = out_pos[d] * g.strides[d] - g.pads_begin[d];
    const TapRange in_input =
        valid_taps(window.origin[d], g.dilations[d], g.kernel[d], g.in_size[d]);
    // The padded input spans [-pads_begin, in_size + pads_end).
    const TapRange in_padded =
        valid_taps(window.origin[d] + g.pads_begin[d], g.dilations[d], g.kernel[d],
                   g.pads_begin[d] + g.in_size[d] + g.pads_end[d]);
    window.tap_begin[d] = in_input.begin;
    window.tap_end[d] = in_input.end;
    window.taps_in_input *= in_input.end - in_input.begin;
    window.taps_in_padded *= in_padded.end - in_padded.begin;
  }
  return window;
}

// Calls fn(offset) with the in-plane offset of every tap of `window` inside the input, in
// row-major order.
template <class Fn>
void for_each_tap(const PoolGeometry& g, const SpatialIndex& in_strides, const Window& window,
                  Fn&& fn) {
  if (window.taps_in_input == 0) return;
  const int rank = g.spatial_rank();
  SpatialIndex tap = window.tap_begin;
  do {
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) {
      offset += (window.origin[d] + tap[d] * g.dilations[d]) * in_strides[d];
    }
    fn(offset);
  } while (next_index(tap, window.tap_begin, window.tap_end, rank));
}

// Calls fn(plane, out_index, window) for every output element, out_index counting over all planes.
template <class Fn>
void for_each_window(const PoolGeometry& g, Fn&& fn) {
  const int64_t out_plane = shape_numel(g.out_size);
  SpatialIndex out_begin{}, out_end{};
  std::copy(g.out_size.begin(), g.out_size.end(), out_end.begin());
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    SpatialIndex out_pos = out_begin;
    for (int64_t out_index = 0; out_index < out_plane; ++out_index) {
      fn(plane, plane * out_plane + out_index, window_at(g, out_pos));
      next_index(out_pos, out_begin, out_end, g.spatial_rank());
    }
  }
}

template <class T>
bool is_nan(T value) {
  if constexpr (std::is_floating_point_v<T>) {
    return std::isnan(value);
  } else {
    return false;
  }
}

// Whether `value` becomes the running maximum: the first value seen, a larger one, or the first
// NaN (NaN propagates, as in a plain max-reduction).
template <class T>
bool replaces_max(T value, T best, bool first) {
  return first || value > best || (is_nan(value) && !is_nan(best));
}

// The column-major spatial index of the row-major in-plane `offset`.
int64_t column_major_index(int64_t offset, const std::vector<int64_t>& in_size,
                           const SpatialIndex& in_strides) {
  int64_t index = 0, stride = 1;
  for (size_t d = 0; d < in_size.size(); ++d) {
    index += (offset / in_strides[d]) % in_size[d] * stride;
    stride *= in_size[d];
  }
  return index;
}

}  // namespace

template <class T>
void max_pool(const PoolGeometry& g, const T* x, T* y, int64_t* indices,
              bool column_major_indices) {
  const int64_t in_plane = shape_numel(g.in_size);
  const SpatialIndex in_strides = spatial_strides(g.in_size);
  for_each_window(g, [&](int64_t plane, int64_t out_index, const Window& window) {
    const T* x_plane = x + plane * in_plane;
    T best = std::numeric_limits<T>::lowest();
    int64_t best_offset = 0;
    bool found = false;
    for_each_tap(g, in_strides, window, [&](int64_t offset) {
      if (replaces_max(x_plane[offset], best, !found)) {
        best = x_plane[offset];
        best_offset = offset;
        found = true;
      }
    });
    y[out_index] = best;
    if (indices == nullptr) return;
    if (!found) {
      indices[out_index] = -1;
    } else if (column_major_indices) {
      indices[out_index] =
          plane * in_plane + column_major_index(best_offset, g.in_size, in_strides);
    } else {
      indices[out_index] = plane * in_plane + best_offset;
    }
  });
}

template <class T>
void average_pool(const PoolGeometry& g, const T* x, T* y, bool count_include_pad) {
  const int64_t in_plane = shape_numel(g.in_size);
  const SpatialIndex in_strides = spatial_strides(g.in_size);
  for_each_window(g, [&](int64_t plane, int64_t out_index, const Window& window) {
    const T* x_plane = x + plane * in_plane;
    double sum = 0;
    for_each_tap(g, in_strides, window, [&](int64_t offset) { sum += x_plane[offset]; });
    const int64_t count = count_include_pad ? window.taps_in_padded : window.taps_in_input;
    y[out_index] = count > 0 ? static_cast<T>(sum / static_cast<double>(count)) : T(0);
  });
}

template <class T>
void lp_pool(const PoolGeometry& g, const T* x, T* y, double p) {
  const int64_t in_plane = shape_numel(g.in_size);
  const SpatialIndex in_strides = spatial_strides(g.in_size);
  for_each_window(g, [&](int64_t plane, int64_t out_index, const Window& window) {
    const T* x_plane = x + plane * in_plane;
    double sum = 0;
    for_each_tap(g, in_strides, window, [&](int64_t offset) {
      sum += std::pow(std::abs(static_cast<double>(x_plane[offset])), p);
    });
    y[out_index] = static_cast<T>(std::pow(sum, 1 / p));
  });
}

template <class T>
void global_average_pool(int64_t planes, int64_t plane_size, const T* x, T* y) {
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_plane = x + plane * plane_size;
    double sum = 0;
    for (int64_t i = 0; i < plane_size; ++i) sum += x_plane[i];
    y[plane] = static_cast<T>(sum / static_cast<double>(plane_size));
  }
}

template <class T>
void global_max_pool(int64_t planes, int64_t plane_size, const T* x, T* y) {
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_plane = x + plane * plane_size;
    T best = std::numeric_limits<T>::lowest();
    for (int64_t i = 0; i < plane_size; ++i) {
      if (replaces_max(x_plane[i], best, i == 0)) best = x_plane[i];
    }
    y[plane] = best;
  }
}

template <class T>
void global_lp_pool(int64_t planes, int64_t plane_size, const T* x, T* y, double p) {
  for (int64_t plane = 0; plane < planes; ++plane) {
    const T* x_plane = x + plane * plane_size;
    double sum = 0;
    for (int64_t i = 0; i < plane_size; ++i)
      sum += std::pow(std::abs(static_cast<double>(x_plane[i])), p);
    y[plane] = static_cast<T>(std::pow(sum, 1 / p));
  }
}

#define QUENCH_INSTANTIATE_FLOAT_POOLS(T)                                       \
  template void max_pool<T>(const PoolGeometry&, const T*, T*, int64_t*, bool); \
  template void average_pool<T>(const PoolGeometry&, const T*, T*, bool);       \
  template void lp_pool<T>(const PoolGeometry&, const T*, T*, double);          \
  template void global_average_pool<T>(int64_t, int64_t, const T*, T*);         \
  template void global_max_pool<T>(int64_t, int64_t, const T*, T*);             \
  template void global_lp_pool<T>(int64_t, int64_t, const T*, T*, double);
QUENCH_INSTANTIATE_FLOAT_POOLS(float)
QUENCH_INSTANTIATE_FLOAT_POOLS(double)
#undef QUENCH_INSTANTIATE_FLOAT_POOLS

template void max_pool<int8_t>(const PoolGeometry&, const int8_t*, int8_t*, int64_t*, bool);
template void max_pool<uint8_t>(const PoolGeometry&, const uint8_t*, uint8_t*, int64_t*, bool);

}  // namespace quench::ref

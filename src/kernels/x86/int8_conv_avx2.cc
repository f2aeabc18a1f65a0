// The run of an x86 int8 convolution (int8_conv.h). Compiled with -mavx2 -mfma; called only where
// x86::cpu_features().avx2.
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_tile_avx2.h"

namespace quench::x86 {
namespace avx2 {
namespace {

// ---- Centering (eq. (33)) ----

// 16 bytes from p, of which `available` may be read (the rest read as 0).
QUENCH_AVX2_INLINE __m128i load16(const uint8_t* p, int64_t available) {
  if (available >= 16) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  alignas(16) uint8_t bytes[16] = {};
  std::memcpy(bytes, p, static_cast<size_t>(std::max<int64_t>(available, 0)));
  return _mm_load_si128(reinterpret_cast<const __m128i*>(bytes));
}
// 16 values minus the zero point as int16: exact, |q − z| <= 255.
template <bool Signed>
QUENCH_AVX2_INLINE __m256i centered16(__m128i bytes, __m256i zero_point) {
  const __m256i wide = Signed ? _mm256_cvtepi8_epi16(bytes) : _mm256_cvtepu8_epi16(bytes);
  return _mm256_sub_epi16(wide, zero_point);
}

// Stores 8 int32 at dst, or only the first `count` of them when a full store would pass `limit`.
QUENCH_AVX2_INLINE void store8_within(int32_t* dst, __m256i v, const int32_t* limit) {
  if (dst + 8 <= limit) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v);
    return;
  }
  alignas(32) int32_t words[8];
  _mm256_store_si256(reinterpret_cast<__m256i*>(words), v);
  std::memcpy(dst, words, static_cast<size_t>(limit - dst) * sizeof(int32_t));
}

// count zeros at dst, in whole vectors of 8 that stop at `limit`.
QUENCH_AVX2_INLINE void zero_fill(int32_t* dst, int64_t count, const int32_t* limit) {
  for (int64_t i = 0; i < count; i += 8) store8_within(dst + i, _mm256_setzero_si256(), limit);
}

// dst[i] = pair(row0[i] − z, row1[i] − z) for i < count (row1 null: high halves 0). Whole vectors
// of 16 pairs are written, up to 15 past `count`, but never at or past `limit`; `end` bounds the
// readable input.
template <bool Signed>
void center_pairs(const uint8_t* row0, const uint8_t* row1, int64_t count, __m256i zero_point,
                  int32_t* dst, const int32_t* limit, const uint8_t* end) {
  for (int64_t i = 0; i < count; i += 16) {
    const __m256i a = centered16<Signed>(load16(row0 + i, end - (row0 + i)), zero_point);
    const __m256i b = row1 == nullptr
                          ? _mm256_setzero_si256()
                          : centered16<Signed>(load16(row1 + i, end - (row1 + i)), zero_point);
    // unpack interleaves within 128-bit lanes: elements 0-3 and 8-11, then 4-7 and 12-15.
    const __m256i low = _mm256_unpacklo_epi16(a, b), high = _mm256_unpackhi_epi16(a, b);
    store8_within(dst + i, _mm256_permute2x128_si256(low, high, 0x20), limit);
    if (dst + i + 8 < limit) {
      store8_within(dst + i + 8, _mm256_permute2x128_si256(low, high, 0x31), limit);
    }
  }
}

// The padded pair layout of ConvPlan (kDirect, kIm2col) for the pairs of one group and image.
template <bool Signed>
void center_input_block(const ConvPlan& p, const uint8_t* x, const uint8_t* x_end,
                        __m256i zero_point, int64_t group, int64_t pair, int64_t image,
                        int32_t* out) {
  const int64_t channel = group * p.in_per_group + 2 * pair;
  const bool has_odd = 2 * pair + 1 < p.in_per_group;
  const int64_t in_channels = p.groups * p.in_per_group;
  const uint8_t* src0 = x + (image * in_channels + channel) * p.in_plane;
  const uint8_t* src1 = has_odd ? src0 + p.in_plane : nullptr;
  int32_t* block =
      out + (group * p.pairs_per_group + pair) * p.pair_stride + image * p.image_stride;
  const int32_t* limit = block + p.image_stride;
  const auto& [depth, height, width] = p.in_size;
  const auto& [padded_depth, padded_height, padded_width] = p.padded;
  if (p.padded == p.in_size) {
    center_pairs<Signed>(src0, src1, p.in_plane, zero_point, block, limit, x_end);
    return;
  }
  // Rows in order: a row's whole-vector writes past its end land in later rows, written after.
  for (int64_t d = 0; d < padded_depth; ++d) {
    for (int64_t h = 0; h < padded_height; ++h) {
      int32_t* row = block + (d * padded_height + h) * padded_width;
      const int64_t in_d = d - p.pads[0], in_h = h - p.pads[1];
      if (in_d < 0 || in_d >= depth || in_h < 0 || in_h >= height) {
        zero_fill(row, padded_width, limit);
        continue;
      }
      const int64_t offset = (in_d * height + in_h) * width;
      zero_fill(row, p.pads[2], limit);
      center_pairs<Signed>(src0 + offset, src1 ? src1 + offset : nullptr, width, zero_point,
                           row + p.pads[2], limit, x_end);
      zero_fill(row + p.pads[2] + width, padded_width - p.pads[2] - width, limit);
    }
  }
}

QUENCH_AVX2_INLINE void load_sums(const int32_t* sums, __m256i& acc0, __m256i& acc1) {
  acc0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums));
  acc1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + 8));
}

template <class Fn>
void parallel_units(int64_t count, int threads, Fn&& fn) {
  const int team = static_cast<int>(std::min<int64_t>({threads, omp_get_max_threads(), count}));
  if (team <= 1) {
    for (int64_t i = 0; i < count; ++i) fn(i, 0);
    return;
  }
#pragma omp parallel for num_threads(team) schedule(static)
  for (int64_t i = 0; i < count; ++i) fn(i, omp_get_thread_num());
}

// ---- Implicit GEMM ----

template <bool Signed>
void center_input(const ConvPlan& p, const uint8_t* x, int32_t x_zero_point, int32_t* input) {
  const uint8_t* x_end = x + p.batch * p.groups * p.in_per_group * p.in_plane;
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(x_zero_point));
  const int64_t pairs = p.groups * p.pairs_per_group;
  parallel_units(pairs * p.batch, p.threads, [&](int64_t i, int) {
    const int64_t pair = i / p.batch, image = i % p.batch;
    center_input_block<Signed>(p, x, x_end, zero_point, pair / p.pairs_per_group,
                               pair % p.pairs_per_group, image, input);
  });
}

// Output positions in order (image, d, h, w), with where each reads the padded input and where its
// outputs go.
struct PositionCursor {
  const ConvPlan& p;
  int64_t image = 0, d = 0, h = 0, w = 0;

  PositionCursor(const ConvPlan& plan, int64_t position) : p(plan) {
    image = position / p.out_plane;
    const int64_t in_image = position % p.out_plane;
    d = in_image / (p.out_size[1] * p.out_size[2]);
    h = in_image / p.out_size[2] % p.out_size[1];
    w = in_image % p.out_size[2];
  }
  // Pair 0 of tap 0 in the padded input (group 0).
  int64_t input_offset() const {
    return image * p.image_stride +
           (d * p.strides[0] * p.padded[1] + h * p.strides[1]) * p.padded[2] + w * p.strides[2];
  }
  // Output channel 0.
  int64_t output_offset() const {
    return image * p.out_channels * p.out_plane + (d * p.out_size[1] + h) * p.out_size[2] + w;
  }
  void next() {
    if (++w < p.out_size[2]) return;
    w = 0;
    if (++h < p.out_size[1]) return;
    h = 0;
    if (++d < p.out_size[0]) return;
    d = 0;
    ++image;
  }
};

// 6 bytes of each of 16 rows `stride` apart (channels of six consecutive positions) as six rows of
// 16 bytes (positions of sixteen channels).
QUENCH_AVX2_INLINE void gather_transposed(const uint8_t* src, int64_t stride, __m128i out[6]) {
  // Six bytes as one register, read as 4 + 2 (no wider read: the row may end there).
  auto load6 = [](const uint8_t* p) {
    uint32_t low;
    uint16_t high;
    std::memcpy(&low, p, 4);
    std::memcpy(&high, p + 4, 2);
    return _mm_cvtsi64_si128(static_cast<int64_t>(low | (uint64_t{high} << 32)));
  };
  __m128i t[8];
  for (int i = 0; i < 8; ++i) {
    // Bytes of channels 2i and 2i + 1, interleaved position by position.
    t[i] = _mm_unpacklo_epi8(load6(src + 2 * i * stride), load6(src + (2 * i + 1) * stride));
  }
  __m128i u[4], v[4];
  for (int i = 0; i < 4; ++i) {
    u[i] = _mm_unpacklo_epi16(t[2 * i], t[2 * i + 1]);  // positions 0-3, channels 4i..4i+3
    v[i] = _mm_unpackhi_epi16(t[2 * i], t[2 * i + 1]);  // positions 4-7
  }
  const __m128i w0 = _mm_unpacklo_epi32(u[0], u[1]), w1 = _mm_unpacklo_epi32(u[2], u[3]);
  const __m128i x0 = _mm_unpackhi_epi32(u[0], u[1]), x1 = _mm_unpackhi_epi32(u[2], u[3]);
  const __m128i y0 = _mm_unpacklo_epi32(v[0], v[1]), y1 = _mm_unpacklo_epi32(v[2], v[3]);
  out[0] = _mm_unpacklo_epi64(w0, w1);
  out[1] = _mm_unpackhi_epi64(w0, w1);
  out[2] = _mm_unpacklo_epi64(x0, x1);
  out[3] = _mm_unpackhi_epi64(x0, x1);
  out[4] = _mm_unpacklo_epi64(y0, y1);
  out[5] = _mm_unpackhi_epi64(y0, y1);
}

// The inverse: six rows of 16 bytes to 6 bytes of each of 16 rows `stride` apart.
QUENCH_AVX2_INLINE void scatter_transposed(const __m128i rows[6], uint8_t* dst, int64_t stride) {
  const __m128i zero = _mm_setzero_si128();
  __m128i low[3], high[3];
  for (int i = 0; i < 3; ++i) {
    low[i] = _mm_unpacklo_epi8(rows[2 * i], rows[2 * i + 1]);   // channels 0-7, positions 2i, 2i+1
    high[i] = _mm_unpackhi_epi8(rows[2 * i], rows[2 * i + 1]);  // channels 8-15
  }
  // Positions 0-3 of four channels, then positions 4-5 (and two zeros), joined per channel.
  const __m128i quads[4] = {_mm_unpacklo_epi16(low[0], low[1]), _mm_unpackhi_epi16(low[0], low[1]),
                            _mm_unpacklo_epi16(high[0], high[1]),
                            _mm_unpackhi_epi16(high[0], high[1])};
  const __m128i pairs[4] = {_mm_unpacklo_epi16(low[2], zero), _mm_unpackhi_epi16(low[2], zero),
                            _mm_unpacklo_epi16(high[2], zero), _mm_unpackhi_epi16(high[2], zero)};
  alignas(16) uint8_t bytes[16][8];
  for (int i = 0; i < 4; ++i) {
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes[4 * i]),
                    _mm_unpacklo_epi32(quads[i], pairs[i]));
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes[4 * i + 2]),
                    _mm_unpackhi_epi32(quads[i], pairs[i]));
  }
  for (int c = 0; c < 16; ++c) std::memcpy(dst + c * stride, bytes[c], 6);
}

// The outputs of one tile: `rows` output positions (output offsets `offsets`, channel 0 of the
// panel) by `count` channels, `plane` apart.
template <OutKind Out, SumKind Sum>
void finish_tile(const RequantConstants& k, const RowParams& params, const int32_t* sums, int rows,
                 const int64_t* offsets, int count, int64_t plane, const void* sum, void* y) {
  constexpr bool kBytes = Out == OutKind::kU8 || Out == OutKind::kS8;
  bool consecutive = rows == kTileRows && count == kTileCols;
  for (int r = 1; consecutive && r < rows; ++r) consecutive = offsets[r] == offsets[0] + r;
  if constexpr (kBytes) {
    if (consecutive) {
      __m128i residual[kTileRows] = {};
      if constexpr (Sum != SumKind::kNone) {
        gather_transposed(static_cast<const uint8_t*>(sum) + offsets[0], plane, residual);
      }
      __m128i results[kTileRows];
      for (int r = 0; r < kTileRows; ++r) {
        __m256i acc0, acc1;
        load_sums(sums + r * kTileCols, acc0, acc1);
        results[r] = requant_bytes<Out, Sum>(k, params, acc0, acc1, residual[r]);
      }
      scatter_transposed(results, static_cast<uint8_t*>(y) + offsets[0], plane);
      return;
    }
  }
  // Any shape: element by element through buffers.
  constexpr int64_t kSize = out_bytes(Out);
  alignas(32) uint8_t results[kTileRows][kTileCols * 4];
  for (int r = 0; r < rows; ++r) {
    __m256i acc0, acc1;
    load_sums(sums + r * kTileCols, acc0, acc1);
    if constexpr (kBytes) {
      alignas(16) uint8_t residual[kTileCols] = {};
      if constexpr (Sum != SumKind::kNone) {
        for (int c = 0; c < count; ++c) {
          residual[c] = static_cast<const uint8_t*>(sum)[offsets[r] + c * plane];
        }
      }
      const __m128i bytes = requant_bytes<Out, Sum>(
          k, params, acc0, acc1, _mm_load_si128(reinterpret_cast<const __m128i*>(residual)));
      _mm_store_si128(reinterpret_cast<__m128i*>(results[r]), bytes);
    } else {
      words<Out>(params, acc0, acc1);
      store_words(results[r], acc0, acc1, kTileCols);
    }
  }
  auto* out = static_cast<uint8_t*>(y);
  for (int c = 0; c < count; ++c) {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(out + (offsets[r] + c * plane) * kSize, results[r] + c * kSize, kSize);
    }
  }
}

// Output positions [begin, end) and panels [panel_begin, panel_end) of one group.
template <OutKind Out, SumKind Sum>
void gemm_positions(const ConvPlan& p, const int32_t* input, const Epilogue& e,
                    const RequantConstants& k, int64_t group, int64_t begin, int64_t end,
                    int64_t panel_begin, int64_t panel_end, void* y) {
  alignas(32) int32_t sums[kTileRows * kTileCols];
  const int32_t* group_input = input + group * p.pairs_per_group * p.pair_stride;
  const int64_t panel_size = p.k_pairs * kTileCols;
  const int64_t taps = static_cast<int64_t>(p.tap_offsets.size());
  for (int64_t from = panel_begin; from < panel_end; from += p.panel_group) {
    const int64_t to = std::min(panel_end, from + p.panel_group);
    PositionCursor cursor(p, begin);
    for (int64_t position = begin; position < end; position += kTileRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, end - position));
      const int32_t* row_inputs[kTileRows];
      int64_t offsets[kTileRows];
      for (int r = 0; r < rows; ++r, cursor.next()) {
        row_inputs[r] = group_input + cursor.input_offset();
        offsets[r] = cursor.output_offset();
      }
      for (int64_t panel = from; panel < to; ++panel) {
        const int64_t channel = group * p.out_per_group + panel * kTileCols;
        const int count =
            static_cast<int>(std::min<int64_t>(kTileCols, p.out_per_group - panel * kTileCols));
        tile_rows(rows, row_inputs, taps, p.tap_offsets.data(), p.pairs_per_group, p.pair_stride,
                  p.weights.data() + (group * p.panels_per_group + panel) * panel_size, sums);
        int64_t channel_offsets[kTileRows];
        for (int r = 0; r < rows; ++r) channel_offsets[r] = offsets[r] + channel * p.out_plane;
        finish_tile<Out, Sum>(k, row_params(e, 0, channel, count), sums, rows, channel_offsets,
                              count, p.out_plane, e.sum, y);
      }
    }
  }
}

template <OutKind Out, SumKind Sum>
void conv_gemm(const ConvPlan& p, const int32_t* input, const Epilogue& e, void* y) {
  const RequantConstants k = requant_constants<Out>(e);
  // Units of work: a group's positions split evenly across the threads (whole tiles), and its
  // panels too when there are few positions (small late layers at batch 1).
  const int64_t tiles = ceil_div(p.positions, kTileRows);
  const int64_t position_units = std::clamp<int64_t>(ceil_div(p.threads, p.groups), 1, tiles);
  const int64_t panel_units =
      std::clamp<int64_t>(ceil_div(p.threads, p.groups * position_units), 1, p.panels_per_group);
  const int64_t tiles_per_unit = ceil_div(tiles, position_units);
  const int64_t panels_per_unit = ceil_div(p.panels_per_group, panel_units);
  parallel_units(p.groups * position_units * panel_units, p.threads, [&](int64_t i, int) {
    const int64_t group = i / (position_units * panel_units);
    const int64_t begin = i / panel_units % position_units * tiles_per_unit * kTileRows;
    const int64_t end = std::min(p.positions, begin + tiles_per_unit * kTileRows);
    const int64_t panel_begin = i % panel_units * panels_per_unit;
    const int64_t panel_end = std::min(p.panels_per_group, panel_begin + panels_per_unit);
    if (begin >= end || panel_begin >= panel_end) return;
    gemm_positions<Out, Sum>(p, input, e, k, group, begin, end, panel_begin, panel_end, y);
  });
}

// ---- Depthwise ----

// 16 rows of 16 bytes transposed in place: four rounds of interleaving rows i and i + 8.
QUENCH_AVX2_INLINE void transpose16x16(__m128i r[16]) {
  for (int round = 0; round < 4; ++round) {
    __m128i t[16];
    for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm_unpacklo_epi8(r[i], r[i + 8]);
      t[2 * i + 1] = _mm_unpackhi_epi8(r[i], r[i + 8]);
    }
    for (int i = 0; i < 16; ++i) r[i] = t[i];
  }
}

// Output channels [16 · block, +16) of `image` read their input channels: as [Dp][Hp][Wp][16]
// int16, centered, the padding 0.
template <bool Signed>
void center_block(const ConvPlan& p, const uint8_t* x, const uint8_t* x_end, __m256i zero_point,
                  int64_t image, int64_t block, int16_t* out) {
  if (p.padded != p.in_size) {
    std::memset(out, 0, static_cast<size_t>(p.image_stride * kTileCols) * sizeof(int16_t));
  }
  const uint8_t* planes[kTileCols];
  for (int lane = 0; lane < kTileCols; ++lane) {
    const int64_t channel = block * kTileCols + lane;
    planes[lane] = channel < p.out_channels
                       ? x + (image * p.groups + channel / p.out_per_group) * p.in_plane
                       : nullptr;
  }
  // Input position (d, h, w) goes to padded position ((d + pd) · Hp + h + ph) · Wp + w + pw:
  // consecutive within a row, a jump of the padding between rows and planes.
  const int64_t width = p.in_size[2], height = p.in_size[1];
  const int64_t row_jump = p.padded[2] - width;
  const int64_t plane_jump = (p.padded[1] - height) * p.padded[2];
  int64_t h = 0, w = 0;
  int16_t* dst = out + ((p.pads[0] * p.padded[1] + p.pads[1]) * p.padded[2] + p.pads[2]) * 16;
  for (int64_t from = 0; from < p.in_plane; from += kTileCols) {
    __m128i r[kTileCols];
    for (int lane = 0; lane < kTileCols; ++lane) {
      const uint8_t* src = planes[lane] + from;
      r[lane] = planes[lane] ? load16(src, x_end - src) : _mm_setzero_si128();
    }
    transpose16x16(r);  // r[i]: position from + i, its 16 channels
    const int count = static_cast<int>(std::min<int64_t>(kTileCols, p.in_plane - from));
    for (int i = 0; i < count; ++i) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), centered16<Signed>(r[i], zero_point));
      dst += 16;
      if (++w < width) continue;
      w = 0;
      dst += row_jump * 16;
      if (++h < height) continue;
      h = 0;
      dst += plane_jump * 16;
    }
  }
}

// Bytes [position][16] of channel block `block` to or from the NCHW rows of `image`: `rows`
// channel rows of `plane` bytes, `plane` apart.
QUENCH_AVX2_INLINE void block_to_rows(const uint8_t* block, int64_t plane, int rows, uint8_t* y) {
  for (int64_t from = 0; from < plane; from += kTileCols) {
    const int count = static_cast<int>(std::min<int64_t>(kTileCols, plane - from));
    __m128i r[kTileCols];
    for (int i = 0; i < kTileCols; ++i) {
      r[i] = i < count ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + (from + i) * 16))
                       : _mm_setzero_si128();
    }
    transpose16x16(r);
    for (int c = 0; c < rows; ++c) store_bytes(y + c * plane + from, r[c], count);
  }
}
QUENCH_AVX2_INLINE void rows_to_block(const uint8_t* y, const uint8_t* y_end, int64_t plane,
                                      int rows, uint8_t* block) {
  for (int64_t from = 0; from < plane; from += kTileCols) {
    __m128i r[kTileCols];
    for (int c = 0; c < kTileCols; ++c) {
      const uint8_t* src = y + c * plane + from;
      r[c] = c < rows ? load16(src, y_end - src) : _mm_setzero_si128();
    }
    transpose16x16(r);
    const int count = static_cast<int>(std::min<int64_t>(kTileCols, plane - from));
    for (int i = 0; i < count; ++i) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(block + (from + i) * 16), r[i]);
    }
  }
}

// The outputs of one channel block of one image: per output position, the 16 channels' sums over
// the taps, two taps at a time (eq. (62)); then the epilogue and the transposition to NCHW.
// `Pairs` > 0 fixes the number of tap pairs, so that the loop over them unrolls (3x3: 5).
template <OutKind Out, SumKind Sum, int Pairs>
void depthwise_block(const ConvPlan& p, const Epilogue& e, const RequantConstants& k,
                     const int16_t* input, int64_t image, int64_t block, uint8_t* results,
                     uint8_t* residual, void* y) {
  constexpr bool kBytes = Out == OutKind::kU8 || Out == OutKind::kS8;
  const int channels =
      static_cast<int>(std::min<int64_t>(kTileCols, p.out_channels - block * kTileCols));
  const int32_t* weights = p.weights.data() + block * p.tap_pairs * kTileCols;
  const RowParams params = row_params(e, 0, block * kTileCols, channels);
  const int64_t y_offset = (image * p.out_channels + block * kTileCols) * p.out_plane;
  if constexpr (Sum != SumKind::kNone) {
    const auto* sum = static_cast<const uint8_t*>(e.sum);
    rows_to_block(sum + y_offset, sum + p.batch * p.out_channels * p.out_plane, p.out_plane,
                  channels, residual);
  }
  int64_t position = 0;
  for (int64_t out_d = 0; out_d < p.out_size[0]; ++out_d) {
    for (int64_t out_h = 0; out_h < p.out_size[1]; ++out_h) {
      const int64_t row = (out_d * p.strides[0] * p.padded[1] + out_h * p.strides[1]) * p.padded[2];
      for (int64_t out_w = 0; out_w < p.out_size[2]; ++out_w, ++position) {
        const int16_t* at = input + (row + out_w * p.strides[2]) * kTileCols;
        // Channels 0-3 and 8-11 in `low`, 4-7 and 12-15 in `high` (unpack within 128-bit lanes).
        __m256i low = _mm256_setzero_si256(), high = _mm256_setzero_si256();
        const int64_t pairs = Pairs > 0 ? Pairs : p.tap_pairs;
        for (int64_t pair = 0; pair < pairs; ++pair) {
          const __m256i even = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(at + p.tap_offsets[2 * pair] * kTileCols));
          const __m256i odd = _mm256_loadu_si256(
              reinterpret_cast<const __m256i*>(at + p.tap_offsets[2 * pair + 1] * kTileCols));
          const int32_t* w = weights + pair * kTileCols;
          low = _mm256_add_epi32(
              low, _mm256_madd_epi16(_mm256_unpacklo_epi16(even, odd),
                                     _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w))));
          high = _mm256_add_epi32(
              high, _mm256_madd_epi16(_mm256_unpackhi_epi16(even, odd),
                                      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + 8))));
        }
        __m256i acc0 = _mm256_permute2x128_si256(low, high, 0x20);
        __m256i acc1 = _mm256_permute2x128_si256(low, high, 0x31);
        if constexpr (kBytes) {
          const __m128i sums =
              Sum == SumKind::kNone
                  ? _mm_setzero_si128()
                  : _mm_loadu_si128(reinterpret_cast<const __m128i*>(residual + position * 16));
          _mm_storeu_si128(reinterpret_cast<__m128i*>(results + position * 16),
                           requant_bytes<Out, Sum>(k, params, acc0, acc1, sums));
        } else {
          words<Out>(params, acc0, acc1);
          store_words(results + position * 64, acc0, acc1, kTileCols);
        }
      }
    }
  }
  if constexpr (kBytes) {
    block_to_rows(results, p.out_plane, channels, static_cast<uint8_t*>(y) + y_offset);
  } else {
    auto* out = static_cast<int32_t*>(y) + y_offset;
    const auto* words = reinterpret_cast<const int32_t*>(results);
    for (int c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < p.out_plane; ++i) out[c * p.out_plane + i] = words[i * 16 + c];
    }
  }
}

template <bool Signed, OutKind Out, SumKind Sum>
void conv_depthwise(const ConvPlan& p, const uint8_t* x, int32_t x_zero_point, const Epilogue& e,
                    void* y, char* thread_scratch) {
  const RequantConstants k = requant_constants<Out>(e);
  const uint8_t* x_end = x + p.batch * p.groups * p.in_plane;
  const __m256i zero_point = _mm256_set1_epi16(static_cast<int16_t>(x_zero_point));
  const int64_t blocks = ceil_div(p.out_channels, kTileCols);
  const size_t input_bytes = static_cast<size_t>(p.image_stride * kTileCols) * sizeof(int16_t);
  const size_t results_bytes = static_cast<size_t>(p.out_plane * kTileCols * 4);
  parallel_units(p.batch * blocks, p.threads, [&](int64_t i, int thread) {
    const int64_t image = i / blocks, block = i % blocks;
    char* scratch = thread_scratch + thread * p.thread_bytes;
    auto* input = reinterpret_cast<int16_t*>(scratch);
    auto* results = reinterpret_cast<uint8_t*>(scratch + input_bytes);
    auto* residual = results + results_bytes;
    center_block<Signed>(p, x, x_end, zero_point, image, block, input);
    if (p.tap_pairs == 5) {
      depthwise_block<Out, Sum, 5>(p, e, k, input, image, block, results, residual, y);
    } else {
      depthwise_block<Out, Sum, 0>(p, e, k, input, image, block, results, residual, y);
    }
  });
}

}  // namespace
}  // namespace avx2

size_t conv_scratch_bytes(const ConvPlan& plan) {
  return plan.input_bytes + static_cast<size_t>(plan.threads) * plan.thread_bytes;
}

void conv_avx2(const ConvPlan& plan, const void* x, int32_t x_zero_point, const Epilogue& e,
               void* y, void* scratch) {
  const auto* bytes = static_cast<const uint8_t*>(x);
  char* thread_scratch = static_cast<char*>(scratch) + plan.input_bytes;
  avx2::visit_epilogue(e, [&]<OutKind Out, SumKind Sum>() {
    if (plan.path == ConvPath::kDepthwise) {
      if (plan.x_signed) {
        avx2::conv_depthwise<true, Out, Sum>(plan, bytes, x_zero_point, e, y, thread_scratch);
      } else {
        avx2::conv_depthwise<false, Out, Sum>(plan, bytes, x_zero_point, e, y, thread_scratch);
      }
      return;
    }
    auto* input = static_cast<int32_t*>(scratch);
    if (plan.x_signed) {
      avx2::center_input<true>(plan, bytes, x_zero_point, input);
    } else {
      avx2::center_input<false>(plan, bytes, x_zero_point, input);
    }
    avx2::conv_gemm<Out, Sum>(plan, input, e, y);
  });
}

}  // namespace quench::x86

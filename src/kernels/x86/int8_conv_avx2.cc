// The run of an x86 int8 convolution (int8_conv.h). Compiled with -mavx2 -mfma; called only where
// x86::cpu_features().avx2.
#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_tile_avx2.h"
#include "kernels/x86/parallel_units.h"

namespace quench::x86::avx2 {
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

// The first `count` (even) of 16 int16 at dst.
QUENCH_AVX2_INLINE void store_slots(int16_t* dst, __m256i v, int count) {
  if (count == 16) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), v);
    return;
  }
  __m128i part = _mm256_castsi256_si128(v);
  if (count >= 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), part);
    part = _mm256_extracti128_si256(v, 1);
    dst += 8;
    count -= 8;
  }
  if (count >= 4) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), part);
    part = _mm_srli_si128(part, 8);
    dst += 4;
    count -= 4;
  }
  if (count >= 2) {
    const int32_t word = _mm_cvtsi128_si32(part);
    std::memcpy(dst, &word, 4);
  }
}

// Zeros where the padded input lies outside the input: `stride` int16 per position.
void zero_padding(const ConvPlan& p, int16_t* out, int64_t stride) {
  const auto& [padded_depth, padded_height, padded_width] = p.padded;
  const size_t position_bytes = static_cast<size_t>(stride) * sizeof(int16_t);
  const int64_t width = p.in_size[2], right = padded_width - p.pads[2] - width;
  for (int64_t d = 0; d < padded_depth; ++d) {
    for (int64_t h = 0; h < padded_height; ++h) {
      int16_t* row = out + (d * padded_height + h) * padded_width * stride;
      const int64_t in_d = d - p.pads[0], in_h = h - p.pads[1];
      if (in_d < 0 || in_d >= p.in_size[0] || in_h < 0 || in_h >= p.in_size[1]) {
        std::memset(row, 0, position_bytes * padded_width);
        continue;
      }
      std::memset(row, 0, position_bytes * p.pads[2]);
      std::memset(row + (p.pads[2] + width) * stride, 0, position_bytes * right);
    }
  }
}

// One image of a channels-last x (u8/s8, `channels` per position) centered into the same layout,
// padded: out[position][slot] = x[position][sources[slot]] − z, or 0 where sources[slot] < 0.
// Where the slots are the channels themselves, whole vectors of 16 (the slots past `slots` read
// whatever follows, stored only as far as `slots`).
template <bool Signed>
void center_from_channels_last(const ConvPlan& p, const uint8_t* image, const uint8_t* x_end,
                               int64_t channels, int32_t zero_point, const int64_t* sources,
                               int64_t slots, int16_t* out, int64_t stride) {
  if (p.padded != p.in_size) zero_padding(p, out, stride);
  const __m256i zero_point16 = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  bool direct = true;  // sources[s] = sources[0] + s wherever there is a source
  for (int64_t slot = 0; slot < slots; ++slot) {
    direct &=
        sources[slot] < 0 ? slot >= channels - sources[0] : sources[slot] == sources[0] + slot;
  }
  const int64_t first_channel = sources[0];
  const int64_t width = p.in_size[2], height = p.in_size[1];
  const int64_t row_jump = (p.padded[2] - width) * stride;
  const int64_t plane_jump = (p.padded[1] - height) * p.padded[2] * stride;
  int16_t* dst = out + ((p.pads[0] * p.padded[1] + p.pads[1]) * p.padded[2] + p.pads[2]) * stride;
  if (direct && first_channel == 0 && slots == channels && stride == channels) {
    // The slots are the channels: each input row is one run of width · channels values.
    const int64_t run = width * channels;
    for (int64_t row = 0; row < p.in_size[0] * height; ++row) {
      const uint8_t* src = image + row * run;
      for (int64_t i = 0; i < run; i += 16) {
        const int count = static_cast<int>(std::min<int64_t>(16, run - i));
        store_slots(dst + i, centered16<Signed>(load16(src + i, x_end - (src + i)), zero_point16),
                    count);
      }
      dst += run + row_jump;
      if ((row + 1) % height == 0) dst += plane_jump;
    }
    return;
  }
  int64_t h = 0, w = 0;
  for (int64_t position = 0; position < p.in_plane; ++position) {
    const uint8_t* src = image + position * channels;
    if (direct) {
      for (int64_t slot = 0; slot < slots; slot += 16) {
        const uint8_t* at = src + first_channel + slot;
        const int count = static_cast<int>(std::min<int64_t>(16, slots - slot));
        store_slots(dst + slot, centered16<Signed>(load16(at, x_end - at), zero_point16), count);
      }
    } else {
      for (int64_t slot = 0; slot < slots; ++slot) {
        const int32_t q = sources[slot] < 0 ? zero_point
                          : Signed          ? static_cast<int8_t>(src[sources[slot]])
                                            : static_cast<int32_t>(src[sources[slot]]);
        dst[slot] = static_cast<int16_t>(q - zero_point);
      }
    }
    dst += stride;
    if (++w < width) continue;
    w = 0;
    dst += row_jump;
    if (++h < height) continue;
    h = 0;
    dst += plane_jump;
  }
}

// One image of x (u8/s8) centered channels last, the padding 0: out[position][slot] = x[channel
// sources[slot]][position] − z, or 0 where sources[slot] < 0; `stride` int16 per position. The
// channel planes are transposed 16 positions by 16 channels at a time.
template <bool Signed>
void center_channels_last(const ConvPlan& p, const uint8_t* image, const uint8_t* x_end,
                          int32_t zero_point, const int64_t* sources, int64_t slots, int16_t* out,
                          int64_t stride) {
  if (p.padded != p.in_size) zero_padding(p, out, stride);
  const __m256i zero_point16 = _mm256_set1_epi16(static_cast<int16_t>(zero_point));
  // An absent channel reads the zero point itself: 0 once centered.
  const __m128i absent = _mm_set1_epi8(static_cast<char>(zero_point));
  const int64_t width = p.in_size[2], height = p.in_size[1];
  // Input position (d, h, w) goes to padded position ((d + pd) · Hp + h + ph) · Wp + w + pw:
  // consecutive within a row, a jump of the padding between rows and planes.
  const int64_t row_jump = (p.padded[2] - width) * stride;
  const int64_t plane_jump = (p.padded[1] - height) * p.padded[2] * stride;
  const int64_t first = ((p.pads[0] * p.padded[1] + p.pads[1]) * p.padded[2] + p.pads[2]) * stride;
  for (int64_t slot = 0; slot < slots; slot += 16) {
    const int count = static_cast<int>(std::min<int64_t>(16, slots - slot));
    const uint8_t* planes[16];
    for (int lane = 0; lane < 16; ++lane) {
      const int64_t source = lane < count ? sources[slot + lane] : -1;
      planes[lane] = source >= 0 ? image + source * p.in_plane : nullptr;
    }
    int16_t* dst = out + first + slot;
    int64_t h = 0, w = 0;
    for (int64_t from = 0; from < p.in_plane; from += 16) {
      __m128i r[16];
      for (int lane = 0; lane < 16; ++lane) {
        // No arithmetic on the null pointer of an absent channel (undefined, UBSan reports it).
        if (planes[lane] == nullptr) {
          r[lane] = absent;
          continue;
        }
        const uint8_t* src = planes[lane] + from;
        r[lane] = load16(src, x_end - src);
      }
      transpose16x16(r);  // r[i]: position from + i, its 16 channels
      const int positions = static_cast<int>(std::min<int64_t>(16, p.in_plane - from));
      for (int i = 0; i < positions; ++i) {
        store_slots(dst, centered16<Signed>(r[i], zero_point16), count);
        dst += stride;
        if (++w < width) continue;
        w = 0;
        dst += row_jump;
        if (++h < height) continue;
        h = 0;
        dst += plane_jump;
      }
    }
  }
}

QUENCH_AVX2_INLINE void load_sums(const int32_t* sums, __m256i& acc0, __m256i& acc1) {
  acc0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums));
  acc1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(sums + 8));
}

// ---- Implicit GEMM ----

// One channel's values v[q] (the low halves of `pairs`, high halves 0) to pairs (v[q], v[q +
// shift]), v 0 past the end. In order: each pair reads a low half not yet changed.
void pair_with_next(int32_t* pairs, int64_t count, int64_t shift) {
  const __m256i low = _mm256_set1_epi32(0xFFFF);
  int64_t q = 0;
  for (; q + 8 + shift <= count; q += 8) {
    const __m256i value = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pairs + q));
    const __m256i next = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(pairs + q + shift));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs + q),
                        _mm256_or_si256(_mm256_and_si256(value, low), _mm256_slli_epi32(next, 16)));
  }
  for (; q < count; ++q) {
    const uint32_t next = q + shift < count ? static_cast<uint32_t>(pairs[q + shift]) & 0xFFFF : 0;
    pairs[q] = static_cast<int32_t>((static_cast<uint32_t>(pairs[q]) & 0xFFFF) | (next << 16));
  }
}

template <bool Signed>
void center_input(const ConvPlan& p, const uint8_t* x, int32_t x_zero_point, int32_t* input) {
  const int64_t in_channels = p.groups * p.in_per_group;
  const uint8_t* x_end = x + p.batch * in_channels * p.in_plane;
  parallel_units(p.batch, p.threads, [&](int64_t image, int) {
    const int64_t slots = static_cast<int64_t>(p.slot_channels.size());
    int32_t* pairs = input + image * p.image_stride;
    if (p.x_channels_last) {
      center_from_channels_last<Signed>(p, x + image * in_channels * p.in_plane, x_end, in_channels,
                                        x_zero_point, p.slot_channels.data(), slots,
                                        reinterpret_cast<int16_t*>(pairs), slots);
    } else {
      center_channels_last<Signed>(p, x + image * in_channels * p.in_plane, x_end, x_zero_point,
                                   p.slot_channels.data(), slots, reinterpret_cast<int16_t*>(pairs),
                                   slots);
    }
    if (p.pair_shift > 0) pair_with_next(pairs, p.image_stride, p.pair_shift);
  });
}

// Output positions in order (image, d, h, w), with where each reads the padded input (pair 0 of
// tap 0, group 0) and where its outputs go (output channel 0).
struct PositionCursor {
  const ConvPlan& p;
  int64_t image = 0, d = 0, h = 0, w = 0;
  int64_t input_offset = 0, output_offset = 0;

  PositionCursor(const ConvPlan& plan, int64_t position) : p(plan) {
    image = position / p.out_plane;
    const int64_t in_image = position % p.out_plane;
    d = in_image / (p.out_size[1] * p.out_size[2]);
    h = in_image / p.out_size[2] % p.out_size[1];
    w = in_image % p.out_size[2];
    locate();
  }
  void locate() {
    input_offset =
        image * p.image_stride +
        ((d * p.strides[0] * p.padded[1] + h * p.strides[1]) * p.padded[2] + w * p.strides[2]) *
            p.position_pairs;
    const int64_t in_image = (d * p.out_size[1] + h) * p.out_size[2] + w;
    output_offset = p.y_channels_last ? (image * p.out_plane + in_image) * p.out_channels
                                      : image * p.out_channels * p.out_plane + in_image;
  }
  void next() {
    if (++w < p.out_size[2]) {
      input_offset += p.strides[2] * p.position_pairs;
      output_offset += p.y_channels_last ? p.out_channels : 1;
      return;
    }
    w = 0;
    if (++h >= p.out_size[1]) {
      h = 0;
      if (++d >= p.out_size[0]) {
        d = 0;
        ++image;
      }
    }
    locate();
  }
};

// 6 bytes of each of 16 rows `stride` apart (channels of six consecutive positions) as six rows of
// 16 bytes (positions of sixteen channels). With `wide`, 8 bytes may be read at each row.
QUENCH_AVX2_INLINE void gather_transposed(const uint8_t* src, int64_t stride, bool wide,
                                          __m128i out[6]) {
  auto load6 = [wide](const uint8_t* p) {
    if (wide) return _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
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

// The inverse: six rows of 16 bytes to 6 bytes of each of 16 rows `stride` apart; with `wide`, 8
// bytes are written per row, the last two to be overwritten by the caller's next tile.
QUENCH_AVX2_INLINE void scatter_transposed(const __m128i rows[6], uint8_t* dst, int64_t stride,
                                           bool wide) {
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
  // Each register holds two channels' 8 bytes (6 used); stored as 4 + 2 bytes straight from the
  // register (through memory, the narrow reloads would wait on the wide store).
  auto store = [stride](uint8_t* at, __m128i two_channels) {
    const uint32_t first = static_cast<uint32_t>(_mm_cvtsi128_si32(two_channels));
    const uint32_t second = static_cast<uint32_t>(_mm_extract_epi32(two_channels, 2));
    const auto first_tail = static_cast<uint16_t>(_mm_extract_epi16(two_channels, 2));
    const auto second_tail = static_cast<uint16_t>(_mm_extract_epi16(two_channels, 6));
    std::memcpy(at, &first, 4);
    std::memcpy(at + 4, &first_tail, 2);
    std::memcpy(at + stride, &second, 4);
    std::memcpy(at + stride + 4, &second_tail, 2);
  };
  auto store_wide = [stride](uint8_t* at, __m128i two_channels) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(at), two_channels);
    _mm_storeh_pd(reinterpret_cast<double*>(at + stride), _mm_castsi128_pd(two_channels));
  };
  for (int i = 0; i < 4; ++i) {
    const __m128i first = _mm_unpacklo_epi32(quads[i], pairs[i]);
    const __m128i second = _mm_unpackhi_epi32(quads[i], pairs[i]);
    if (wide) {
      store_wide(dst + 4 * i * stride, first);
      store_wide(dst + (4 * i + 2) * stride, second);
    } else {
      store(dst + 4 * i * stride, first);
      store(dst + (4 * i + 2) * stride, second);
    }
  }
}

// The outputs of one tile: `rows` output positions (output offsets `offsets`, channel 0 of the
// panel) by `count` channels, `plane` apart, in an output of `outputs` elements. `wide_stores`:
// the two positions after the tile's six are the caller's to write next (scatter_transposed).
template <OutKind Out, SumKind Sum, bool Finite>
void finish_tile(const RequantConstants& k, const RowParams& params, const int32_t* sums, int rows,
                 const int64_t* offsets, int count, int64_t plane, const void* sum, int64_t outputs,
                 bool wide_stores, void* y) {
  constexpr bool kBytes = Out == OutKind::kU8 || Out == OutKind::kS8;
  constexpr int64_t kSize = out_bytes(Out);
  if (plane == 1) {
    // Channels last: each row's channels are contiguous.
    for (int r = 0; r < rows; ++r) {
      __m256i acc0, acc1;
      load_sums(sums + r * kTileCols, acc0, acc1);
      const void* row_sum =
          Sum == SumKind::kNone ? nullptr : static_cast<const uint8_t*>(sum) + offsets[r];
      finish_row<Out, Sum, Finite>(k, params, acc0, acc1, row_sum,
                                   static_cast<uint8_t*>(y) + offsets[r] * kSize, count);
    }
    return;
  }
  bool consecutive = rows == kTileRows && count == kTileCols;
  for (int r = 1; consecutive && r < rows; ++r) consecutive = offsets[r] == offsets[0] + r;
  if constexpr (kBytes) {
    if (consecutive) {
      __m128i residual[kTileRows] = {};
      if constexpr (Sum != SumKind::kNone) {
        // Two bytes past each row's six stay within the tensor: read 8.
        const bool wide = offsets[0] + 15 * plane + 8 <= outputs;
        gather_transposed(static_cast<const uint8_t*>(sum) + offsets[0], plane, wide, residual);
      }
      __m128i results[kTileRows];
      for (int r = 0; r < kTileRows; ++r) {
        __m256i acc0, acc1;
        load_sums(sums + r * kTileCols, acc0, acc1);
        results[r] = requant_bytes<Out, Sum, Finite>(k, params, acc0, acc1, residual[r]);
      }
      scatter_transposed(results, static_cast<uint8_t*>(y) + offsets[0], plane, wide_stores);
      return;
    }
  }
  // Any shape: element by element through buffers.
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
      const __m128i bytes = requant_bytes<Out, Sum, Finite>(
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
template <OutKind Out, SumKind Sum, bool Finite>
void gemm_positions(const ConvPlan& p, const int32_t* input, const Epilogue& e,
                    const RequantConstants& k, int64_t group, int64_t begin, int64_t end,
                    int64_t panel_begin, int64_t panel_end, void* y) {
  alignas(32) int32_t sums[kTileRows * kTileCols];
  const int32_t* group_input = input + group * p.pairs_per_group;
  const int64_t panel_size = p.k_pairs * kTileCols;
  const int64_t taps = static_cast<int64_t>(p.tap_offsets.size());
  const int64_t outputs = p.batch * p.out_channels * p.out_plane;
  for (int64_t from = panel_begin; from < panel_end; from += p.panel_group) {
    const int64_t to = std::min(panel_end, from + p.panel_group);
    PositionCursor cursor(p, begin);
    for (int64_t position = begin; position < end; position += kTileRows) {
      const int rows = static_cast<int>(std::min<int64_t>(kTileRows, end - position));
      const int32_t* row_inputs[kTileRows];
      int64_t offsets[kTileRows];
      const int64_t in_image = position - cursor.image * p.out_plane;
      for (int r = 0; r < rows; ++r, cursor.next()) {
        row_inputs[r] = group_input + cursor.input_offset;
        offsets[r] = cursor.output_offset;
      }
      // 8-byte stores where the next tile, in this image and unit, rewrites the two extra
      // positions, and no later tile still reads them as a residual sum (one buffer in place).
      const bool wide_stores = !p.y_channels_last && position + 8 <= end &&
                               in_image + 8 <= p.out_plane && (e.sum == nullptr || e.sum != y);
      for (int64_t panel = from; panel < to; ++panel) {
        const int64_t channel = group * p.out_per_group + panel * kTileCols;
        const int count =
            static_cast<int>(std::min<int64_t>(kTileCols, p.out_per_group - panel * kTileCols));
        tile_rows(rows, row_inputs, taps, p.tap_offsets.data(), p.pairs_per_group, 1,
                  p.weights.data() + (group * p.panels_per_group + panel) * panel_size, sums);
        // Output channel c of a row at offsets[r] + c · channel_stride.
        const int64_t channel_stride = p.y_channels_last ? 1 : p.out_plane;
        int64_t channel_offsets[kTileRows];
        for (int r = 0; r < rows; ++r) channel_offsets[r] = offsets[r] + channel * channel_stride;
        finish_tile<Out, Sum, Finite>(k, row_params(e, 0, channel, count), sums, rows,
                                      channel_offsets, count, channel_stride, e.sum, outputs,
                                      wide_stores, y);
      }
    }
  }
}

template <OutKind Out, SumKind Sum, bool Finite>
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
    gemm_positions<Out, Sum, Finite>(p, input, e, k, group, begin, end, panel_begin, panel_end, y);
  });
}

// ---- Depthwise ----

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
template <OutKind Out, SumKind Sum, bool Finite, int Pairs>
void depthwise_block(const ConvPlan& p, const Epilogue& e, const RequantConstants& k,
                     const int16_t* input, int64_t image, int64_t block, uint8_t* results,
                     uint8_t* residual, void* y) {
  constexpr bool kBytes = Out == OutKind::kU8 || Out == OutKind::kS8;
  const int channels =
      static_cast<int>(std::min<int64_t>(kTileCols, p.out_channels - block * kTileCols));
  const int32_t* weights = p.weights.data() + block * p.tap_pairs * kTileCols;
  const RowParams params = row_params(e, 0, block * kTileCols, channels);
  const int64_t y_offset = p.y_channels_last
                               ? image * p.out_plane * p.out_channels + block * kTileCols
                               : (image * p.out_channels + block * kTileCols) * p.out_plane;
  if constexpr (Sum != SumKind::kNone) {
    const auto* sum = static_cast<const uint8_t*>(e.sum);
    const uint8_t* sum_end = sum + p.batch * p.out_channels * p.out_plane;
    if (p.y_channels_last) {
      for (int64_t i = 0; i < p.out_plane; ++i) {
        const uint8_t* at = sum + y_offset + i * p.out_channels;
        _mm_storeu_si128(reinterpret_cast<__m128i*>(residual + i * 16), load16(at, sum_end - at));
      }
    } else {
      rows_to_block(sum + y_offset, sum_end, p.out_plane, channels, residual);
    }
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
                           requant_bytes<Out, Sum, Finite>(k, params, acc0, acc1, sums));
        } else {
          words<Out>(params, acc0, acc1);
          store_words(results + position * 64, acc0, acc1, kTileCols);
        }
      }
    }
  }
  if (p.y_channels_last) {
    for (int64_t i = 0; i < p.out_plane; ++i) {
      const int64_t at = y_offset + i * p.out_channels;
      if constexpr (kBytes) {
        store_bytes(static_cast<uint8_t*>(y) + at,
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(results + i * 16)), channels);
      } else {
        const auto* words = reinterpret_cast<const __m256i*>(results + i * 64);
        store_words(static_cast<int32_t*>(y) + at, _mm256_loadu_si256(words),
                    _mm256_loadu_si256(words + 1), channels);
      }
    }
  } else if constexpr (kBytes) {
    block_to_rows(results, p.out_plane, channels, static_cast<uint8_t*>(y) + y_offset);
  } else {
    auto* out = static_cast<int32_t*>(y) + y_offset;
    const auto* words = reinterpret_cast<const int32_t*>(results);
    for (int c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < p.out_plane; ++i) out[c * p.out_plane + i] = words[i * 16 + c];
    }
  }
}

template <bool Signed, OutKind Out, SumKind Sum, bool Finite>
void conv_depthwise(const ConvPlan& p, const uint8_t* x, int32_t x_zero_point, const Epilogue& e,
                    void* y, char* thread_scratch) {
  const RequantConstants k = requant_constants<Out>(e);
  const uint8_t* x_end = x + p.batch * p.groups * p.in_plane;
  const int64_t blocks = ceil_div(p.out_channels, kTileCols);
  const size_t input_bytes = static_cast<size_t>(round_up(p.padded_positions * kTileCols * 2, 64));
  const size_t results_bytes = static_cast<size_t>(p.out_plane * kTileCols * 4);
  parallel_units(p.batch * blocks, p.threads, [&](int64_t i, int thread) {
    const int64_t image = i / blocks, block = i % blocks;
    char* scratch = thread_scratch + thread * p.thread_bytes;
    auto* input = reinterpret_cast<int16_t*>(scratch);
    auto* results = reinterpret_cast<uint8_t*>(scratch + input_bytes);
    auto* residual = results + results_bytes;
    const int64_t* sources = p.slot_channels.data() + block * kTileCols;
    if (p.x_channels_last) {
      center_from_channels_last<Signed>(p, x + image * p.groups * p.in_plane, x_end, p.groups,
                                        x_zero_point, sources, kTileCols, input, kTileCols);
    } else {
      center_channels_last<Signed>(p, x + image * p.groups * p.in_plane, x_end, x_zero_point,
                                   sources, kTileCols, input, kTileCols);
    }
    if (p.tap_pairs == 5) {
      depthwise_block<Out, Sum, Finite, 5>(p, e, k, input, image, block, results, residual, y);
    } else {
      depthwise_block<Out, Sum, Finite, 0>(p, e, k, input, image, block, results, residual, y);
    }
  });
}

}  // namespace

size_t conv_scratch_bytes(const ConvPlan& plan) {
  return plan.input_bytes + static_cast<size_t>(plan.threads) * plan.thread_bytes;
}

void conv(const ConvPlan& plan, const void* x, int32_t x_zero_point, const Epilogue& e, void* y,
          void* scratch) {
  const auto* bytes = static_cast<const uint8_t*>(x);
  char* thread_scratch = static_cast<char*>(scratch) + plan.input_bytes;
  visit_epilogue(e, [&]<OutKind Out, SumKind Sum, bool Finite>() {
    if (plan.path == ConvPath::kDepthwise) {
      if (plan.x_signed) {
        conv_depthwise<true, Out, Sum, Finite>(plan, bytes, x_zero_point, e, y, thread_scratch);
      } else {
        conv_depthwise<false, Out, Sum, Finite>(plan, bytes, x_zero_point, e, y, thread_scratch);
      }
      return;
    }
    auto* input = static_cast<int32_t*>(scratch);
    if (plan.x_signed) {
      center_input<true>(plan, bytes, x_zero_point, input);
    } else {
      center_input<false>(plan, bytes, x_zero_point, input);
    }
    conv_gemm<Out, Sum, Finite>(plan, input, e, y);
  });
}

}  // namespace quench::x86::avx2

// The depthwise convolution of ConvPath::kDepthwiseVnni (int8_conv.h), compiled for AVX-512 VNNI.
//
// For 16 channels at a time, one output row at a time: each column of the input that the row's
// taps read is turned into `columns` (one vector per kernel-row group: in int32 lane c, the bytes
// of channel c at that column in up to four kernel rows), so that every output is one vpdpbusd per
// group and kernel column against the packed weights (eq. (163)). A column vector serves every
// output whose window covers it (three, for a 3x3 window at stride 1).
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/x86/int8_conv.h"
#include "kernels/x86/int8_gemm.h"
#include "kernels/x86/parallel_units.h"

// GCC 12 reports the intrinsics' own undefined pass-through operands (_mm512_undefined_*) as
// (maybe) used uninitialized once they are inlined here; they are not.
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace quench::x86::avx512vnni {
namespace {

constexpr int64_t kLanes = 16;

// Column vectors per thread: one per kernel-row group (16 channels), or four (64 channels).
int64_t column_vectors(const ConvPlan& p) {
  return std::max<int64_t>(p.row_groups, p.wide_groups > 0 ? 4 : 0) * p.padded[2];
}

// The requantizing epilogue's constants (eqs. (35), (46), (64)), 16 lanes. Passed by reference
// only: clang 14 builds a by-value copy of this 64-byte-aligned struct on the stack with aligned
// stores at a misaligned address when the caller's frame is realigned (the sanitizer build
// faulted).
struct Requant {
  __m512 low, high, q_low, q_high, merged_low, merged_high;
  __m512i zero_point;
};

Requant requant(const Epilogue& e) {
  const RequantBounds b = requant_bounds(e, e.out);
  return {_mm512_set1_ps(b.low),          _mm512_set1_ps(b.high),
          _mm512_set1_ps(b.q_low),        _mm512_set1_ps(b.q_high),
          _mm512_set1_ps(b.merged_low),   _mm512_set1_ps(b.merged_high),
          _mm512_set1_epi32(e.zero_point)};
}

// Eqs. (35), (46) on 16 sums, as saturate_rounded in int8_tile_avx2.h: float(acc) · M clamped,
// rounded half to even and saturated (eq. (64)'s single clamp when every multiplier is finite),
// plus z_y; the operand order of min/max keeps a NaN through eq. (46)'s clamp and sends it to
// q_min − z_y in the saturation.
template <bool Finite>
inline __m512i requantize_words(const Requant& k, __m512i acc, __m512 multiplier) {
  __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc), multiplier);
  if constexpr (Finite) {
    v = _mm512_min_ps(k.merged_high, _mm512_max_ps(k.merged_low, v));
  } else {
    v = _mm512_min_ps(k.high, _mm512_max_ps(k.low, v));
    v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(v, k.q_low), k.q_high);
  }
  return _mm512_add_epi32(_mm512_cvtps_epi32(v), k.zero_point);
}

// The same as bytes: in [q_min, q_max], the low byte of each int32 is the 8-bit value.
template <bool Finite>
inline __m128i requantize(const Requant& k, __m512i acc, __m512 multiplier) {
  return _mm512_cvtepi32_epi8(requantize_words<Finite>(k, acc, multiplier));
}

// 16 input bytes widened to int32 lanes and moved to byte `Row` of each lane.
template <bool Full, int Row>
inline __m512i row_bytes(const uint8_t* at, __mmask16 lanes) {
  const __m128i bytes = Full ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(at))
                             : _mm_maskz_loadu_epi8(lanes, at);
  const __m512i wide = _mm512_cvtepu8_epi32(bytes);
  return Row == 0 ? wide : _mm512_slli_epi32(wide, 8 * Row);
}

// What one image's convolution reads at every output row, block by block.
struct Image {
  const ConvPlan* p;
  const uint8_t* x;  // the image's first input byte
  uint8_t* y;        // its first output byte
  int32_t zero;      // the input's zero point as read (x + 128 for signed inputs)
  __m512i pad_column;
  alignas(64) uint8_t pad_row[64];  // copies of the zero point as stored
  // Per channel slot (see channel_of): eq. (163)'s bias, less z_x · Σ w', and the multiplier.
  const int32_t* bias;
  const float* multipliers;
};

// Four input rows walked column by column: row j's bytes at the current column start at at[j]; a
// padding row (or one past the kernel) has step 0 and points at the zero points.
struct RowWalk {
  const uint8_t* at[4];
  int64_t step[4];
};

// The input rows output row `oh` reads at kernel rows first, …, first + 3 (those from `count` on
// are padding), from channel `first_channel` on, at the image's first column.
RowWalk walk_rows(const Image& im, int64_t oh, int64_t first, int64_t count,
                  int64_t first_channel) {
  const ConvPlan& p = *im.p;
  RowWalk rows;
  for (int j = 0; j < 4; ++j) {
    const int64_t ih = oh * p.strides[1] - p.pads[1] + (first + j) * p.dilations[1];
    const bool inside = j < count && ih >= 0 && ih < p.in_size[1];
    rows.at[j] = inside ? im.x + ih * p.in_size[2] * p.out_channels + first_channel : im.pad_row;
    rows.step[j] = inside ? p.out_channels : 0;
  }
  return rows;
}

// The column vectors of one kernel-row group for the image's columns [0, in_w), stored at
// out[column]: `Rows` (1-4) rows of `rows`. Signed inputs flip each byte's top
// bit (x + 128). The lanes' bytes past `Rows` stay 0 (their weights are 0).
template <bool Full, bool Signed, int Rows>
void fill_columns(RowWalk rows, int64_t in_w, __mmask16 lanes, __m512i* out) {
  const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
  for (int64_t w = 0; w < in_w; ++w) {
    __m512i v = row_bytes<Full, 0>(rows.at[0], lanes);
    if constexpr (Rows == 2) {
      v = _mm512_or_si512(v, row_bytes<Full, 1>(rows.at[1], lanes));
    } else if constexpr (Rows >= 3) {
      // (Named first: clang's intrinsic is a macro, and template arguments hold commas.)
      const __m512i second = row_bytes<Full, 1>(rows.at[1], lanes);
      const __m512i third = row_bytes<Full, 2>(rows.at[2], lanes);
      v = _mm512_ternarylogic_epi32(v, second, third, 0xFE);
    }
    if constexpr (Rows == 4) v = _mm512_or_si512(v, row_bytes<Full, 3>(rows.at[3], lanes));
    if constexpr (Signed) v = _mm512_xor_si512(v, flip);
    _mm512_store_si512(out + w, v);
    for (int j = 0; j < 4; ++j) rows.at[j] += rows.step[j];
  }
}

template <bool Full, bool Signed>
void fill_group(int rows_in_group, const RowWalk& rows, int64_t in_w, __mmask16 lanes,
                __m512i* out) {
  switch (rows_in_group) {
    case 1:
      return fill_columns<Full, Signed, 1>(rows, in_w, lanes, out);
    case 2:
      return fill_columns<Full, Signed, 2>(rows, in_w, lanes, out);
    case 3:
      return fill_columns<Full, Signed, 3>(rows, in_w, lanes, out);
    default:
      return fill_columns<Full, Signed, 4>(rows, in_w, lanes, out);
  }
}

// Output row `oh` of a block from its column vectors: per output, one vpdpbusd per kernel-row
// group and kernel column. `Groups`, `KernelW` > 0: those counts, the weights held in registers
// (3x3 and 5x5 windows); 0: the plan's, read from memory.
template <bool Full, bool Finite, int Groups, int KernelW>
void output_row(const ConvPlan& p, const __m512i* columns, const int8_t* weights, __m512i bias,
                __m512 multiplier, const Requant& constants, __mmask16 lanes, uint8_t* row_y) {
  const Requant k = constants;  // in registers: the output stores may alias the reference
  const int64_t groups = Groups > 0 ? Groups : p.row_groups;
  const int64_t kernel_w = KernelW > 0 ? KernelW : p.kernel[2];
  const int64_t width = p.padded[2], stride = p.strides[2], dilation = p.dilations[2];
  const int64_t channels = p.out_channels, out_w = p.out_size[2];
  constexpr int kHeld = Groups * KernelW;
  __m512i held[kHeld > 0 ? kHeld : 1];
  for (int i = 0; i < kHeld; ++i) held[i] = _mm512_loadu_si512(weights + i * 64);
  for (int64_t ow = 0; ow < out_w; ++ow, row_y += channels) {
    __m512i acc = bias;
    for (int64_t g = 0; g < groups; ++g) {
      const __m512i* at = columns + g * width + ow * stride;
      for (int64_t kw = 0; kw < kernel_w; ++kw) {
        const __m512i w = kHeld > 0 ? held[g * kernel_w + kw]
                                    : _mm512_loadu_si512(weights + (g * kernel_w + kw) * 64);
        acc = _mm512_dpbusd_epi32(acc, _mm512_load_si512(at + kw * dilation), w);
      }
    }
    const __m128i bytes = requantize<Finite>(k, acc, multiplier);
    if constexpr (Full) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(row_y), bytes);
    } else {
      _mm_mask_storeu_epi8(row_y, lanes, bytes);
    }
  }
}

// Output row `oh` of the 16-channel block `block` (channels [16 · block, 16 · block + 16) ∩ the
// channels): its column vectors, then its outputs.
template <bool Full, bool Finite, bool Signed>
void block_row(const Image& im, const Requant& k, int64_t oh, int64_t block, __m512i* columns) {
  const ConvPlan& p = *im.p;
  const int64_t channels = p.out_channels, first_channel = block * kLanes;
  const auto lanes =
      static_cast<__mmask16>((1u << std::min<int64_t>(kLanes, channels - first_channel)) - 1);
  const int64_t in_w = p.in_size[2], kernel_h = p.kernel[1], kernel_w = p.kernel[2];
  const int64_t pad_w = p.pads[2], width = p.padded[2];
  for (int64_t g = 0; g < p.row_groups; ++g) {
    __m512i* out = columns + g * width;
    const int rows_in_group = static_cast<int>(std::min<int64_t>(4, kernel_h - 4 * g));
    const RowWalk rows = walk_rows(im, oh, 4 * g, rows_in_group, first_channel);
    // Padded columns [pad_w, pad_w + in_w) are the image's (plan.padded covers them); the others
    // the taps read are padding.
    for (int64_t q = 0; q < pad_w; ++q) _mm512_store_si512(out + q, im.pad_column);
    fill_group<Full, Signed>(rows_in_group, rows, in_w, lanes, out + pad_w);
    for (int64_t q = pad_w + in_w; q < width; ++q) _mm512_store_si512(out + q, im.pad_column);
  }
  const __m512i bias = _mm512_load_si512(im.bias + first_channel);
  const __m512 multiplier = _mm512_load_ps(im.multipliers + first_channel);
  const int8_t* weights = p.quad_weights.data() + block * p.row_groups * kernel_w * 64;
  uint8_t* row_y = im.y + oh * p.out_size[2] * channels + first_channel;
  if (p.row_groups == 1 && kernel_w == 3) {
    output_row<Full, Finite, 1, 3>(p, columns, weights, bias, multiplier, k, lanes, row_y);
  } else if (p.row_groups == 2 && kernel_w == 5) {
    output_row<Full, Finite, 2, 5>(p, columns, weights, bias, multiplier, k, lanes, row_y);
  } else {
    output_row<Full, Finite, 0, 0>(p, columns, weights, bias, multiplier, k, lanes, row_y);
  }
}

// ---- 64 channels at a time (kernels of at most four rows) ----

// The channel whose parameters slot `slot` holds: in a 64-channel group, lane 4L + i of vector v
// holds channel 16L + 4v + i (the order in which vpunpck{l,h}bw and vpunpck{l,h}wd leave four
// 64-byte rows; int8_conv.h); past the groups, channel `slot` itself.
int64_t channel_of(const ConvPlan& p, int64_t slot) {
  if (slot >= p.wide_groups * 64) return slot;
  const int64_t v = slot % 64 / 16, lane = slot % 16;
  return slot / 64 * 64 + lane / 4 * 16 + 4 * v + lane % 4;
}

// Bytes of the per-call parameters (scratch after the threads' columns): bias and multipliers.
int64_t slots(const ConvPlan& p) { return ceil_div(p.out_channels, kLanes) * kLanes; }

// The column vectors of a 64-channel group for the image's columns [0, in_w): four per column, at
// out[4 · column + k], lane 4L + i of vector k holding the four rows' bytes of channel 16L + 4k +
// i.
template <bool Signed>
void fill_wide(RowWalk rows, int64_t in_w, __m512i* out) {
  const __m512i flip = _mm512_set1_epi32(static_cast<int32_t>(0x80808080u));
  for (int64_t w = 0; w < in_w; ++w, out += 4) {
    const __m512i a = _mm512_loadu_si512(rows.at[0]), b = _mm512_loadu_si512(rows.at[1]);
    const __m512i c = _mm512_loadu_si512(rows.at[2]), d = _mm512_loadu_si512(rows.at[3]);
    for (int j = 0; j < 4; ++j) rows.at[j] += rows.step[j];
    const __m512i ab_low = _mm512_unpacklo_epi8(a, b), ab_high = _mm512_unpackhi_epi8(a, b);
    const __m512i cd_low = _mm512_unpacklo_epi8(c, d), cd_high = _mm512_unpackhi_epi8(c, d);
    __m512i q0 = _mm512_unpacklo_epi16(ab_low, cd_low), q1 = _mm512_unpackhi_epi16(ab_low, cd_low);
    __m512i q2 = _mm512_unpacklo_epi16(ab_high, cd_high);
    __m512i q3 = _mm512_unpackhi_epi16(ab_high, cd_high);
    if constexpr (Signed) {
      q0 = _mm512_xor_si512(q0, flip);
      q1 = _mm512_xor_si512(q1, flip);
      q2 = _mm512_xor_si512(q2, flip);
      q3 = _mm512_xor_si512(q3, flip);
    }
    _mm512_store_si512(out, q0);
    _mm512_store_si512(out + 1, q1);
    _mm512_store_si512(out + 2, q2);
    _mm512_store_si512(out + 3, q3);
  }
}

// One output row of a 64-channel group: per output, four vpdpbusd per kernel column, the four
// vectors' words packed back into channel order (vpackssdw, then vpackuswb / vpacksswb: the
// values are in range, nothing saturates). `KernelW` > 0: that width, the weights in registers.
template <bool Finite, bool U8, int KernelW>
void wide_output_row(const ConvPlan& p, const __m512i* columns, const int8_t* weights,
                     const __m512i* bias, const __m512* multiplier, const Requant& constants,
                     uint8_t* row_y) {
  const Requant k = constants;  // in registers: the output stores may alias the reference
  const int64_t kernel_w = KernelW > 0 ? KernelW : p.kernel[2];
  const int64_t stride = p.strides[2], dilation = p.dilations[2];
  const int64_t channels = p.out_channels, out_w = p.out_size[2];
  constexpr int kHeld = 4 * KernelW;
  __m512i held[kHeld > 0 ? kHeld : 1];
  for (int i = 0; i < kHeld; ++i) held[i] = _mm512_loadu_si512(weights + i * 64);
  const __m512i b0 = bias[0], b1 = bias[1], b2 = bias[2], b3 = bias[3];
  const __m512 m0 = multiplier[0], m1 = multiplier[1], m2 = multiplier[2], m3 = multiplier[3];
  for (int64_t ow = 0; ow < out_w; ++ow, row_y += channels) {
    __m512i a0 = b0, a1 = b1, a2 = b2, a3 = b3;
    for (int64_t kw = 0; kw < kernel_w; ++kw) {
      const __m512i* at = columns + 4 * (ow * stride + kw * dilation);
      auto w = [&](int v) {
        return kHeld > 0 ? held[4 * kw + v] : _mm512_loadu_si512(weights + (4 * kw + v) * 64);
      };
      a0 = _mm512_dpbusd_epi32(a0, _mm512_load_si512(at), w(0));
      a1 = _mm512_dpbusd_epi32(a1, _mm512_load_si512(at + 1), w(1));
      a2 = _mm512_dpbusd_epi32(a2, _mm512_load_si512(at + 2), w(2));
      a3 = _mm512_dpbusd_epi32(a3, _mm512_load_si512(at + 3), w(3));
    }
    const __m512i low = _mm512_packs_epi32(requantize_words<Finite>(k, a0, m0),
                                           requantize_words<Finite>(k, a1, m1));
    const __m512i high = _mm512_packs_epi32(requantize_words<Finite>(k, a2, m2),
                                            requantize_words<Finite>(k, a3, m3));
    _mm512_storeu_si512(row_y, U8 ? _mm512_packus_epi16(low, high) : _mm512_packs_epi16(low, high));
  }
}

// Output rows [oh, oh + rows) of 64-channel group `group` (rows 2 only with pair_rows): one fill of
// the input rows they read, then each row's outputs.
template <bool Finite, bool Signed, bool U8>
void wide_group_rows(const Image& im, const Requant& k, int64_t oh, int64_t rows, int64_t group,
                     __m512i* columns) {
  const ConvPlan& p = *im.p;
  const int64_t channels = p.out_channels, first_channel = group * 64;
  const int64_t in_w = p.in_size[2], kernel_w = p.kernel[2];
  const int64_t pad_w = p.pads[2], width = p.padded[2];
  // Pairs read kernel_h + 1 rows (stride and dilation 1), single rows kernel_h.
  const RowWalk input = walk_rows(im, oh, 0, p.kernel[1] + (p.pair_rows ? 1 : 0), first_channel);
  for (int64_t q = 0; q < 4 * pad_w; ++q) _mm512_store_si512(columns + q, im.pad_column);
  fill_wide<Signed>(input, in_w, columns + 4 * pad_w);
  for (int64_t q = 4 * (pad_w + in_w); q < 4 * width; ++q) {
    _mm512_store_si512(columns + q, im.pad_column);
  }
  // Eq. (163)'s bias and the multipliers, in the group's lane order.
  __m512i bias[4];
  __m512 multiplier[4];
  for (int v = 0; v < 4; ++v) {
    bias[v] = _mm512_load_si512(im.bias + first_channel + 16 * v);
    multiplier[v] = _mm512_load_ps(im.multipliers + first_channel + 16 * v);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const int8_t* weights = p.wide_weights.data() + (group * 2 + r) * kernel_w * 4 * 64;
    uint8_t* row_y = im.y + (oh + r) * p.out_size[2] * channels + first_channel;
    if (kernel_w == 3) {
      wide_output_row<Finite, U8, 3>(p, columns, weights, bias, multiplier, k, row_y);
    } else {
      wide_output_row<Finite, U8, 0>(p, columns, weights, bias, multiplier, k, row_y);
    }
  }
}

// Output rows [oh, oh + rows) of an image: 64-channel groups where the plan has them, then 16-
// channel blocks. Group by group, each row's outputs are written in order and the input rows it
// reads stay in cache.
template <bool Finite, bool Signed, bool U8>
void image_rows(const Image& im, const Requant& k, int64_t oh, int64_t rows, __m512i* columns) {
  const ConvPlan& p = *im.p;
  for (int64_t group = 0; group < p.wide_groups; ++group) {
    wide_group_rows<Finite, Signed, U8>(im, k, oh, rows, group, columns);
  }
  const int64_t full_blocks = p.out_channels / kLanes;
  for (int64_t r = oh; r < oh + rows; ++r) {
    for (int64_t block = p.wide_groups * 4; block < full_blocks; ++block) {
      block_row<true, Finite, Signed>(im, k, r, block, columns);
    }
    if (full_blocks * kLanes < p.out_channels) {
      block_row<false, Finite, Signed>(im, k, r, full_blocks, columns);
    }
  }
}

}  // namespace

size_t depthwise_scratch_bytes(const ConvPlan& plan) {
  return static_cast<size_t>(plan.threads * column_vectors(plan)) * sizeof(__m512i) +
         static_cast<size_t>(slots(plan)) * (sizeof(int32_t) + sizeof(float));
}

void depthwise(const ConvPlan& p, const void* x, int32_t x_zero_point, const Epilogue& e, void* y,
               void* scratch) {
  const Requant k = requant(e);
  const int64_t out_h = p.out_size[1];
  const int64_t rows_per_unit = p.pair_rows ? 2 : 1;
  const int64_t units_per_image = ceil_div(out_h, rows_per_unit);
  const int64_t in_image = p.in_size[1] * p.in_size[2] * p.out_channels;
  const int64_t out_image = out_h * p.out_size[2] * p.out_channels;
  const bool u8 = e.out == OutKind::kU8;
  // Eq. (163)'s bias (less z_x · Σ w', int32 modulo 2^32 as eq. (34) adds it) and the
  // multipliers, once per call, slot by slot (0 past the channels).
  const int32_t zero = p.x_signed ? x_zero_point + 128 : x_zero_point;
  auto* columns_end = static_cast<__m512i*>(scratch) + p.threads * column_vectors(p);
  auto* bias = reinterpret_cast<int32_t*>(columns_end);
  auto* multipliers = reinterpret_cast<float*>(bias + slots(p));
  for (int64_t slot = 0; slot < slots(p); ++slot) {
    const int64_t c = channel_of(p, slot);
    const bool real = c < p.out_channels;
    const uint32_t sum = static_cast<uint32_t>(p.weight_sums[static_cast<size_t>(c)]);
    uint32_t b = 0u - static_cast<uint32_t>(zero) * sum;
    if (real && e.bias != nullptr) b += static_cast<uint32_t>(e.bias[c]);
    bias[slot] = static_cast<int32_t>(b);
    multipliers[slot] = real ? e.multipliers[c] : 0.f;
  }
  parallel_units(p.batch * units_per_image, p.threads, [&](int64_t i, int thread) {
    const int64_t image = i / units_per_image;
    const int64_t oh = i % units_per_image * rows_per_unit;
    const int64_t rows = std::min(rows_per_unit, out_h - oh);
    Image im;
    im.p = &p;
    im.x = static_cast<const uint8_t*>(x) + image * in_image;
    im.y = static_cast<uint8_t*>(y) + image * out_image;
    // Signed inputs are read as x + 128, their zero point likewise; a padding column holds the
    // zero point in every byte.
    im.zero = zero;
    im.pad_column = _mm512_set1_epi32(static_cast<int32_t>(0x01010101u * im.zero));
    std::memset(im.pad_row, static_cast<uint8_t>(x_zero_point), sizeof(im.pad_row));
    im.bias = bias;
    im.multipliers = multipliers;
    __m512i* columns = static_cast<__m512i*>(scratch) + thread * column_vectors(p);
    const auto run = [&]<bool Finite, bool Signed>() {
      u8 ? image_rows<Finite, Signed, true>(im, k, oh, rows, columns)
         : image_rows<Finite, Signed, false>(im, k, oh, rows, columns);
    };
    if (p.x_signed) {
      e.finite ? run.template operator()<true, true>() : run.template operator()<false, true>();
    } else {
      e.finite ? run.template operator()<true, false>() : run.template operator()<false, false>();
    }
  });
}

}  // namespace quench::x86::avx512vnni

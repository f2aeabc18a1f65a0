// quench's own exact int8 convolutions for x86 CPUs with AVX2 but without VNNI (QLinearConv,
// QFusedConv, ConvInteger), on the GEMM core of int8_gemm.h: weights centered and packed once,
// the input centered once per run (eq. (33)), activations plain NCHW or channels last. Two paths:
//   - an implicit GEMM: the input is centered into channel pairs, channels last, with its padding
//     made explicit, and each output position is a row of A read in place, through its own
//     pointer plus one offset per tap (no im2col, any stride and dilation); the weights are B's
//     16-channel panels;
//   - depthwise convolutions (one input channel per group) have no reduction over channels to
//     tile: 16 channels at a time run channels last;
//   - on AVX-512 VNNI, 2-D depthwise convolutions channels last in and out (make_qdepthwise_conv,
//     ahead of oneDNN's): vpdpbusd multiplies, per int32 lane, the input bytes of up to four
//     kernel rows at one column by their weights (eq. (163)).
// Plain inputs and outputs are transposed in 16x16 byte blocks. Rows (output positions) run
// across the batch's images, so small late layers fill whole tiles.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/x86/int8_epilogue.h"
#include "ops/op_registry.h"

namespace quench::x86 {

// QLinearConv and QFusedConv (bias, residual sum, clamp: eqs. (45), (46)) and ConvInteger (int32
// sums): u8/s8 activations with a per-tensor zero point (constant or read at run time), constant
// u8/s8 weights with constant zero points per tensor or per output channel. nullptr for anything
// else (the reference kernels run it), and where the CPU lacks AVX2.
std::unique_ptr<Kernel> make_qconv(KernelContext& ctx);
std::unique_ptr<Kernel> make_conv_integer(KernelContext& ctx);
// The AVX-512 VNNI depthwise path alone (QLinearConv, QFusedConv without a residual sum): 2-D,
// one output channel per group, activations channels last, centered weights within int8, 8-bit
// outputs. nullptr for anything else and where the CPU lacks AVX-512 VNNI.
std::unique_ptr<Kernel> make_qdepthwise_conv(KernelContext& ctx);

// How the products of a convolution are formed.
enum class ConvPath { kGemm, kDepthwise, kDepthwiseVnni };

// A convolution prepared for conv_avx2. Spatial vectors have three dims, [depth, height, width];
// 1-D and 2-D convolutions have leading 1s.
struct ConvPlan {
  ConvPath path = ConvPath::kGemm;
  bool x_signed = false;
  // Activations channels last ([N][D][H][W][C], oneDNN's acdb / acdeb / acb) rather than plain
  // NCHW: the input as its producer stored it, the output (and a residual sum) as this kernel
  // stores it, so that consecutive convolutions need no transposition.
  bool x_channels_last = false, y_channels_last = false;
  int64_t batch = 0, groups = 1, out_channels = 0;
  int64_t in_per_group = 0, out_per_group = 0;
  std::array<int64_t, 3> in_size{}, out_size{}, kernel{}, strides{}, dilations{}, pads{};
  std::array<int64_t, 3> padded{};  // extents of the padded input: every position a tap reads
  int64_t taps = 0, in_plane = 0, out_plane = 0;
  int64_t positions = 0;  // batch * out_plane: the GEMM's rows
  std::vector<int32_t> weights;
  std::vector<int64_t> tap_offsets;  // per tap: where it reads, relative to the output position
  int64_t padded_positions = 0;      // Dp * Hp * Wp

  // kGemm. The centered input, channels last, padded with zeros:
  //   src = x [N][C][D][H][W] or [N][D][H][W][C] (u8/s8)   dst = [N][Dp][Hp][Wp][group][pairs]
  //   int32, pair p of a group holding its channels 2p, 2p + 1 (an odd last channel paired with 0)
  // so that a position's pairs are contiguous and neighbouring taps share cache lines. Output
  // position (n, d, h, w) reads tap t's pairs of group g from n * image_stride + ((d * sd * Hp +
  // h * sh) * Wp + w * sw) * position_pairs + tap_offsets[t] + g * pairs_per_group on.
  int64_t pairs_per_group = 0;
  int64_t position_pairs = 0;  // groups * pairs_per_group
  int64_t image_stride = 0;    // padded_positions * position_pairs
  // The input channel of each int16 of a position, or -1 (kDepthwise: of each output channel's
  // lane, 16 per block).
  std::vector<int64_t> slot_channels;
  // One input channel: pairs are taps (kw, kw + 1), the pair at position q (x[q], x[q +
  // pair_shift]), pair_shift the width dilation; tap_offsets then hold the even taps'. 0: pairs
  // of channels.
  int64_t pair_shift = 0;
  // Weights, B's panels, tap by tap over the group's channel pairs:
  //   src = w [O][C/group][taps] int16 (centered)   dst = [group][O/group/16][taps][pairs][16]
  //   int32 (the last panel's extra channels 0)
  int64_t panels_per_group = 0;
  int64_t k_pairs = 0;      // taps * pairs_per_group
  int64_t panel_group = 0;  // panels per pass over the rows: their weights stay in L2

  // kDepthwise, 16 output channels at a time: the input channels they read, centered and padded,
  //   src = x [N][C][D][H][W] or [N][D][H][W][C] (u8/s8)   dst = [Dp][Hp][Wp][16] int16 (one
  //   image, one block; tap_offsets in positions),
  // and the weights in tap pairs, in the lane order of vpunpcklwd / vpunpckhwd:
  //   src = w [O][1][taps] int16   dst = [O/16][tap_pairs][16] int32, lanes 0-7 channels 0-3 and
  //   8-11, lanes 8-15 channels 4-7 and 12-15 (an odd tap paired with weight 0 at tap 0's offset)
  int64_t tap_pairs = 0;

  // kDepthwiseVnni, eq. (163): kernel rows in groups of four (row_groups of them), one int32 lane
  // per channel holding a group's four taps at one kernel column,
  //   src = w' [O][1][KH][KW] int16 (centered, within int8)   dst = [O/16][row_groups][KW][16][4]
  //   int8 (rows past the kernel 0),
  // and each channel's Σ w' over its taps, for the input zero point's term.
  int64_t row_groups = 0;
  std::vector<int8_t> quad_weights;
  std::vector<int32_t> weight_sums;  // [O/16 · 16], 0 past the channels
  // With one group (at most four kernel rows), whole groups of 64 channels (wide_groups of them)
  // run 64 at a time: four vectors per column, filled from 64-byte rows by vpunpck{l,h}bw and
  // vpunpck{l,h}wd, which leave channel 16L + 4v + i in lane 4L + i of vector v. With pair_rows
  // (at most three kernel rows, vertical stride and dilation 1) one fill of kernel_h + 1 input rows
  // serves two output rows, the second's taps one byte up in each lane:
  //   src = w' [O][1][KH][KW]   dst = [O/64][2 output rows][KW][4 vectors][16][4] int8
  int64_t wide_groups = 0;
  bool pair_rows = false;
  std::vector<int8_t> wide_weights;

  int threads = 1;
  size_t input_bytes = 0;   // the centered input (kGemm), shared by the threads
  size_t thread_bytes = 0;  // per thread: a padded block and its results (kDepthwise)
};

// Compiled for AVX2 (the *_avx2.cc files); call only where cpu_features().avx2.
namespace avx2 {

// Scratch that conv needs for `plan`.
size_t conv_scratch_bytes(const ConvPlan& plan);

// Runs the convolution of `x` (u8/s8 with zero point `x_zero_point`) into `y` with the epilogue
// `e` (parameters per output channel: column strides 1). AVX2 (int8_conv_avx2.cc).
void conv(const ConvPlan& plan, const void* x, int32_t x_zero_point, const Epilogue& e, void* y,
          void* scratch);

}  // namespace avx2

// Compiled for AVX-512 VNNI (int8_depthwise_avx512vnni.cc); call only where
// cpu_features().avx512_vnni.
namespace avx512vnni {

size_t depthwise_scratch_bytes(const ConvPlan& plan);

// Runs the kDepthwiseVnni convolution of `x` (u8/s8 with zero point `x_zero_point`, channels
// last) into `y` (8-bit, channels last) with the epilogue `e` (no residual sum).
void depthwise(const ConvPlan& plan, const void* x, int32_t x_zero_point, const Epilogue& e,
               void* y, void* scratch);

}  // namespace avx512vnni

}  // namespace quench::x86

// com.microsoft MatMulNBits with 4-bit weights on AVX2 or AVX-512 (the LLM decode product, batch
// 1, and small batches): the packed weights are streamed once per tile of up to 4 rows of A,
// codes widened to int32 lanes in registers, converted to float and multiplied by FMA, each
// block's sum scaled once, the zero points taken off with A's block sums (docs/quantization.md
// eq. (144)). Tested against kernels/ref/nbits_matmul.h.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "ops/op_registry.h"

namespace quench::x86 {

// The weights as the kernel reads them: B's bytes as stored ([N, k_blocks, block_size / 2]), the
// scales [N, k_blocks], and the zero points unpacked to one byte per block (8 when absent).
struct Int4Weights {
  int64_t k = 0, n = 0, block_size = 32, k_blocks = 0;
  std::vector<uint8_t> b;
  std::vector<float> scales;
  std::vector<int8_t> zero_points;
};

// The column loops (eq. (144)), on 8 or 16 float lanes.
enum class Int4Isa { kAvx2, kAvx512 };
// The fastest this CPU runs (AVX-512 F/BW/VL/DQ, else AVX2); its name, "avx512" or "avx2".
Int4Isa int4_isa();
const char* int4_isa_name(Int4Isa isa);

// MatMulNBits with bits = 4, block_size a multiple of 32, constant B, scales and zero points
// (packed uint8 or absent), no g_idx; nullptr otherwise, without AVX2, or when `isa` is not
// available here.
std::unique_ptr<Kernel> make_matmul_nbits(KernelContext& ctx);
std::unique_ptr<Kernel> make_matmul_nbits(KernelContext& ctx, Int4Isa isa);

// Bytes of scratch gemv_int4 needs for `rows` rows of A.
size_t int4_scratch_bytes(const Int4Weights& w, int64_t rows);
// y [rows, N] = a [rows, K] · W (+ bias), columns [n0, n1) only (threads split N); `scratch` is
// int4_scratch_bytes(w, rows), 64-byte aligned.
void gemv_int4(const Int4Weights& w, const float* a, int64_t rows, const float* bias, float* y,
               int64_t n0, int64_t n1, void* scratch, Int4Isa isa = int4_isa());

// Columns [n0, n1) for up to 4 rows whose A is `perm` (each row k_blocks · block_size floats,
// every 32 in the order the nibbles unpack: 16 even, then 16 odd elements; zeros past K) and
// `block_sums` (per row, the k_blocks sums of A over each block).
namespace avx2 {
void int4_columns(const Int4Weights& w, const float* perm, const float* block_sums, int64_t rows,
                  const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx2
namespace avx512 {
void int4_columns(const Int4Weights& w, const float* perm, const float* block_sums, int64_t rows,
                  const float* bias, float* y, int64_t y_stride, int64_t n0, int64_t n1);
}  // namespace avx512

}  // namespace quench::x86

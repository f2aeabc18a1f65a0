// quench's own exact integer matrix products for x86 CPUs with AVX2 but without VNNI
// (QLinearMatMul, QFusedMatMul, MatMulInteger, com.microsoft QGemm and MatMulIntegerToFloat) on the
// GEMM core of int8_gemm.h: A's rows broadcast, B's columns in 16-wide panels, packed once when B
// is constant and at every run when it is not (attention).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/x86/int8_epilogue.h"
#include "ops/op_registry.h"

namespace quench::x86 {

// QLinearMatMul and QFusedMatMul (bias, residual sum, clamp: eqs. (45), (46)): A with per-tensor
// parameters; B constant with per-tensor or per-column zero points, or read at run time with one
// zero point; batched products with numpy broadcasting. nullptr otherwise (per-row A parameters,
// parameters per matrix) and where the CPU lacks AVX2.
std::unique_ptr<Kernel> make_qmatmul(KernelContext& ctx);
// MatMulInteger: the same operands, int32 sums out; A's zero point may be a run-time value.
std::unique_ptr<Kernel> make_matmul_integer(KernelContext& ctx);
// com.microsoft MatMulIntegerToFloat (eq. (155)): the same operands, float(Σ) · s_a · s_b[n] plus
// a float bias out; A's scale and zero point may be run-time values.
std::unique_ptr<Kernel> make_matmul_integer_to_float(KernelContext& ctx);
// com.microsoft QGemm (eq. (39)): transA / transB, alpha, an int32 C broadcast to [M, N], a u8/s8
// or (without y_scale) float output; B constant.
std::unique_ptr<Kernel> make_qgemm(KernelContext& ctx);

// A batch of products [M, K] x [K, N] prepared for matmul_avx2.
struct MatMulPlan {
  bool a_signed = false, b_signed = false;
  int64_t m = 0, n = 0, k = 0, pairs = 0;
  bool a_transposed = false;  // A stored [K][M] (QGemm's transA)
  bool b_transposed = false;  // a run-time B stored [N][K]
  // Output matrix i multiplies A matrix a_matrix[i] by B matrix b_matrix[i].
  std::vector<int64_t> a_matrix, b_matrix;
  int64_t a_matrices = 1, b_matrices = 1;
  // One B for every output matrix and A not broadcast: all rows form one [matrices · M] A.
  bool fold_rows = false;
  // A centered per run: src = [matrices][M][K] (u8/s8)   dst = [matrices · M][pairs] int32.
  // B: src = [K][N]   dst = [matrices][N/16][pairs][16] int32 (int8_gemm.h), packed here when B
  // is constant (empty: packed into scratch at every run).
  std::vector<int32_t> packed_b;
  int threads = 1;
  size_t a_bytes = 0, b_bytes = 0;
};

// The plan of one [m, k] x [k, n] product whose B is constant: `b` row-major [K][N] int8 with one
// zero point, A (u8 or s8) and its zero point given at run time. avx2::matmul with an kS32
// epilogue then gives eq. (34)'s exact sums. Build-time code.
MatMulPlan constant_b_plan(int64_t m, int64_t k, int64_t n, bool a_signed, const int8_t* b,
                           int32_t b_zero_point, int threads);

// Compiled for AVX2 (the *_avx2.cc files); call only where cpu_features().avx2.
namespace avx2 {

size_t matmul_scratch_bytes(const MatMulPlan& plan);

// Runs the products of A (zero point a_zero_point) and B (b_zero_point, for a B packed per run)
// into y with the epilogue `e` (parameters per column of B, or per row for QGemm's C). AVX2
// (int8_matmul.cc).
void matmul(const MatMulPlan& plan, const void* a, int32_t a_zero_point, const void* b,
            int32_t b_zero_point, const Epilogue& e, void* y, void* scratch);

}  // namespace avx2

}  // namespace quench::x86

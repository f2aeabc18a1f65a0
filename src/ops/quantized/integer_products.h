// Pieces shared by the quantized and integer op families (src/ops/quantized/): type checks, and
// the centering of quantized operands and the preparation of integer convolutions and matrix
// products that the reference kernels run on and the fast kernels reuse.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/check.h"
#include "core/requantize.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/quant_matmul.h"
#include "ops/linalg.h"
#include "ops/op_registry.h"
#include "ops/quantized/params.h"

namespace quench {

// Fails unless input `i`'s type (when known) is u8 or s8 (or s32 with `allow_int32`).
void check_quant_input_type(const InferContext& ctx, size_t i, const char* name,
                            bool allow_int32 = false);
// Fails unless input `i`'s type (when known) is float.
void check_float_input_type(const InferContext& ctx, size_t i, const char* name);
// Fails unless inputs `a` and `b` (both present and known) have one type.
void check_same_type(const InferContext& ctx, size_t a, size_t b, const char* what);

// Kernel-time versions: kInvalidModel for a type the op does not allow.
void expect_quant_type(const KernelContext& ctx, size_t i, const char* name,
                       bool allow_int32 = false);
void expect_same_type(const KernelContext& ctx, size_t a, size_t b, const char* what);

// Output type of an op whose output has the type of its zero point input `zero_point` (u8 when
// the zero point is absent and `default_u8`, else unknown).
DType output_type_from_zero_point(const InferContext& ctx, size_t zero_point, bool default_u8);

// Where the parameter (scale, zero point) of an operand element lives, for parameters broadcast
// along an operand viewed as [matrices, rows, cols]: index = matrix_offsets[matrix] + row *
// row_stride + col * col_stride. Per-tensor parameters have all offsets and strides 0.
struct ParamIndexing {
  std::vector<int64_t> matrix_offsets;  // one per matrix
  int64_t row_stride = 0;
  int64_t col_stride = 0;

  int64_t index(int64_t matrix, int64_t row, int64_t col) const {
    return matrix_offsets[matrix] + row * row_stride + col * col_stride;
  }
};

// The indexing of parameters of shape `param` broadcast to an operand of shape `operand` (rank
// >= 2, read as [matrices..., rows, cols]); kInvalidModel naming the node and `what` when `param`
// does not broadcast to `operand` with size 1 along `reduced_dim` (the operand's K dim: -1 for
// the last dim, -2 for the one before).
ParamIndexing param_indexing(const Node& node, const char* what, const Shape& param,
                             const Shape& operand, int reduced_dim);

// How an operand is centered (eq. (33)) into the int16 layout [matrices, rows, cols] the integer
// kernels read. With `transpose` the operand is stored as [matrices, cols, rows].
struct CenterLayout {
  int64_t matrices = 1;
  int64_t rows = 1;
  int64_t cols = 1;
  bool transpose = false;
  ParamIndexing zero_points;  // in the centered layout's terms; empty offsets: one zero point
};

// An operand minus its zero points, as int16 (|q − z| <= 255): centered once when the operand and
// its zero points are constant, else into scratch at every run.
class CenteredOperand {
 public:
  CenteredOperand() = default;
  CenteredOperand(const KernelContext& ctx, size_t input, QuantParamSource zero_points,
                  CenterLayout layout);

  size_t scratch_bytes() const;  // 0 when centered at build time
  const int16_t* data(const KernelArgs& args, void* scratch) const;

 private:
  void center(const void* q, const KernelArgs& args, int16_t* out) const;

  size_t input_ = 0;
  DType type_ = DType::kUInt8;
  QuantParamSource zero_points_;
  CenterLayout layout_;
  std::vector<int16_t> prepared_;
};

// Per-channel multipliers M[c] = ((alpha · s_a) · s_b[c]) / s_y (eq. (36); alpha is 1 except for
// QGemm), or (alpha · s_a) · s_b[c] without an output scale (QGemm's float output). Prepared when
// the scales are constant, else computed into scratch at every run.
class ChannelMultipliers {
 public:
  ChannelMultipliers() = default;
  ChannelMultipliers(QuantParamSource a, QuantParamSource b, std::optional<QuantParamSource> y,
                     int64_t channels, float alpha = 1.f);

  size_t scratch_bytes() const;
  const float* data(const KernelArgs& args, void* scratch) const;

 private:
  void compute(const KernelArgs& args, float* out) const;

  QuantParamSource a_, b_;
  std::optional<QuantParamSource> y_;
  int64_t channels_ = 0;
  float alpha_ = 1.f;
  std::vector<float> prepared_;
};

// Offsets of several scratch buffers in one scratch area, each 64-byte aligned.
class ScratchPlan {
 public:
  // Reserves `bytes` and returns the buffer's offset.
  size_t add(size_t bytes);
  size_t total() const { return total_; }

 private:
  size_t total_ = 0;
};
inline void* scratch_at(void* scratch, size_t offset) {
  return static_cast<char*>(scratch) + offset;
}

// Input positions of an integer matrix product's operands and parameters (kNoScale for the scales
// of MatMulInteger, an absent position for an absent zero point).
struct MatMulInputs {
  size_t a, a_scale, a_zero_point;
  size_t b, b_scale, b_zero_point;
};

// An integer MatMul (numpy semantics) prepared for ref::matmul_centered: the centered operands,
// their parameters, and where each output's parameters live. A's parameters are per tensor or
// per row (a 1-D list of M, or broadcast to A's shape with K replaced by 1), B's per tensor or
// per column (broadcast to B's shape with K replaced by 1).
struct IntMatMul {
  ref::CenteredMatMul product;
  Shape output;
  CenteredOperand a, b;
  QuantParamSource a_params, b_params;
  ParamIndexing a_index, b_index;           // a_index(matrix, row, 0), b_index(matrix, 0, col)
  std::vector<int64_t> a_matrix, b_matrix;  // A's and B's matrix for each output matrix

  int64_t a_param(int64_t batch, int64_t row) const {
    return a_index.index(a_matrix[batch], row, 0);
  }
  int64_t b_param(int64_t batch, int64_t col) const {
    return b_index.index(b_matrix[batch], 0, col);
  }
};
IntMatMul make_int_matmul(const KernelContext& ctx, const MatMulInputs& in);

// Shape checks of an integer MatMul's parameters in shape inference (the rules of IntMatMul).
void check_matmul_param_shapes(const InferContext& ctx, const MatMulInputs& in);

// An integer convolution prepared for ref::conv_centered: the geometry of Conv and the centered
// operands (X per tensor, W per tensor or per output channel).
struct IntConv {
  ref::ConvGeometry geometry;
  CenteredOperand x, w;
  QuantParamSource x_params, w_params;
};
// `x_scale` / `w_scale` may be QuantParamSource::kNoScale; `bias` is nullptr without a bias.
IntConv make_int_conv(const KernelContext& ctx, size_t x, size_t x_scale, size_t x_zero_point,
                      size_t w, size_t w_scale, size_t w_zero_point, const Shape* bias);

// Shape inference of an integer convolution's output (Conv's rules) and parameter shapes.
void infer_int_conv(InferContext& ctx, size_t x, size_t x_scale, size_t x_zero_point, size_t w,
                    size_t w_scale, size_t w_zero_point, size_t bias);

// Shape inference of a per-tensor (scale, zero point) pair belonging to data input `data`: a
// float scale, a zero point of the data's type, both scalars (or one element).
void infer_tensor_params(const InferContext& ctx, size_t data, size_t scale, size_t zero_point,
                         const char* what);
// The same pair at build time; kInvalidModel when it holds several values.
QuantParamSource tensor_params(const KernelContext& ctx, size_t scale, size_t zero_point,
                               DType type, const char* what);

// Eq. (40): table[q − q_min] = quantize(f(dequantize(q))) for all 256 values of Q.
template <class Q, class F>
void fill_table(float x_scale, int32_t x_zero_point, float y_scale, int32_t y_zero_point,
                const F& f, Q* table) {
  for (int32_t q = kQuantMin<Q>; q <= kQuantMax<Q>; ++q) {
    table[q - kQuantMin<Q>] =
        quantize<Q>(f(dequantize(q, x_scale, x_zero_point)), y_scale, y_zero_point);
  }
}

// Calls fn(Type<Q>{}) with Q the C++ type of u8 or s8 `type` (kInternal otherwise).
template <class Q>
struct QType {
  using type = Q;
};
template <class Fn>
decltype(auto) visit_quant_type(DType type, Fn&& fn) {
  if (type == DType::kInt8) return fn(QType<int8_t>{});
  QUENCH_CHECK(type == DType::kUInt8, ErrorKind::kInternal, "not an 8-bit quantized type: {}",
               dtype_name(type));
  return fn(QType<uint8_t>{});
}

}  // namespace quench

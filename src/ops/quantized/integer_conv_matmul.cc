// ConvInteger and MatMulInteger (opset 10): exact integer sums of centered operands, written as
// int32 (docs/quantization.md, eqs. (33), (34)); also the setup of integer convolutions and
// matrix products that QLinearConv and QLinearMatMul share.
#include "core/requantize.h"
#include "ir/shape_util.h"
#include "kernels/ref/quant_conv.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/conv.h"
#include "ops/linalg.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

constexpr size_t kNoScale = QuantParamSource::kNoScale;

// The shape of a parameter pair (the scale's, or the zero point's when it has more elements;
// a scalar when both are absent).
Shape param_shape(const KernelContext& ctx, size_t scale, size_t zero_point) {
  Shape shape;
  int64_t count = 1;
  for (size_t i : {scale, zero_point}) {
    if (i == kNoScale || !ctx.has_input(i)) continue;
    if (ctx.inputs[i].numel() > count) {
      shape = ctx.inputs[i].shape;
      count = ctx.inputs[i].numel();
    }
  }
  return shape;
}

// Per tensor: no matrix offsets, so centering reads a single zero point.
ParamIndexing drop_if_per_tensor(ParamIndexing p, const QuantParamSource& params) {
  if (params.size() == 1) p.matrix_offsets.clear();
  return p;
}

}  // namespace

IntMatMul make_int_matmul(const KernelContext& ctx, const MatMulInputs& in) {
  const Node& node = ctx.node;
  const Shape& a_shape = ctx.input(in.a).shape;
  const Shape& b_shape = ctx.input(in.b).shape;
  const MatMulGeometry g = matmul_geometry(a_shape, b_shape, node);
  Shape a2 = a_shape, b2 = b_shape;
  if (a2.size() == 1) a2.insert(a2.begin(), 1);
  if (b2.size() == 1) b2.push_back(1);

  IntMatMul m;
  m.output = g.output;
  m.product.M = g.M;
  m.product.N = g.N;
  m.product.K = g.K;
  m.a_params = QuantParamSource(ctx, in.a_scale, in.a_zero_point, ctx.input(in.a).dtype);
  m.b_params = QuantParamSource(ctx, in.b_scale, in.b_zero_point, ctx.input(in.b).dtype);
  Shape a_param = param_shape(ctx, in.a_scale, in.a_zero_point);
  // The spec's per-row list for a 2-D A: [M] reads as [M, 1].
  if (a_param.size() == 1 && a_param[0] == g.M && a_shape.size() >= 2) a_param.push_back(1);
  m.a_index = param_indexing(node, "A's scale and zero point", a_param, a2, -1);
  m.b_index = param_indexing(node, "B's scale and zero point",
                             param_shape(ctx, in.b_scale, in.b_zero_point), b2, -2);

  const int64_t a_matrix_size = std::max<int64_t>(1, g.M * g.K);
  const int64_t b_matrix_size = std::max<int64_t>(1, g.K * g.N);
  const int64_t batch_count = shape_numel(g.batch);
  const Shape batch_index_strides = strides_of(g.batch);
  for (int64_t batch = 0; batch < batch_count; ++batch) {
    int64_t a_offset = 0, b_offset = 0;
    for (size_t d = 0; d < g.batch.size(); ++d) {
      const int64_t index = batch / batch_index_strides[d] % g.batch[d];
      a_offset += index * g.a_batch_strides[d];
      b_offset += index * g.b_batch_strides[d];
    }
    m.product.a_offsets.push_back(a_offset);
    m.product.b_offsets.push_back(b_offset);
    m.a_matrix.push_back(a_offset / a_matrix_size);
    m.b_matrix.push_back(b_offset / b_matrix_size);
  }

  CenterLayout a_layout;
  a_layout.matrices = shape_numel(std::span(a2).first(a2.size() - 2));
  a_layout.rows = g.M;
  a_layout.cols = g.K;
  a_layout.zero_points = drop_if_per_tensor(m.a_index, m.a_params);
  m.a = CenteredOperand(ctx, in.a, m.a_params, std::move(a_layout));

  // B is centered transposed, [N, K] per matrix: its column index becomes the row.
  CenterLayout b_layout;
  b_layout.matrices = shape_numel(std::span(b2).first(b2.size() - 2));
  b_layout.rows = g.N;
  b_layout.cols = g.K;
  b_layout.transpose = true;
  b_layout.zero_points = drop_if_per_tensor(m.b_index, m.b_params);
  std::swap(b_layout.zero_points.row_stride, b_layout.zero_points.col_stride);
  m.b = CenteredOperand(ctx, in.b, m.b_params, std::move(b_layout));
  return m;
}

void check_matmul_param_shapes(const InferContext& ctx, const MatMulInputs& in) {
  auto concrete_shape = [&](size_t i) -> std::optional<Shape> {
    if (i == kNoScale || !ctx.has_input(i) || ctx.input_shape(i) == nullptr) return std::nullopt;
    return concrete(*ctx.input_shape(i));
  };
  const auto a = concrete_shape(in.a), b = concrete_shape(in.b);
  auto check = [&](const std::optional<Shape>& operand, size_t scale, size_t zero_point,
                   bool is_a) {
    if (!operand || operand->empty()) return;
    Shape shaped = *operand;
    if (shaped.size() == 1) shaped.insert(is_a ? shaped.begin() : shaped.end(), 1);
    for (size_t i : {scale, zero_point}) {
      const auto param = concrete_shape(i);
      if (!param) continue;
      Shape p = *param;
      const int64_t rows = shaped[shaped.size() - 2];
      if (is_a && p.size() == 1 && p[0] == rows && operand->size() >= 2) p.push_back(1);
      param_indexing(ctx.node(), is_a ? "A's scale or zero point" : "B's scale or zero point", p,
                     shaped, is_a ? -1 : -2);
    }
  };
  check(a, in.a_scale, in.a_zero_point, true);
  check(b, in.b_scale, in.b_zero_point, false);
}

IntConv make_int_conv(const KernelContext& ctx, size_t x, size_t x_scale, size_t x_zero_point,
                      size_t w, size_t w_scale, size_t w_zero_point, const Shape* bias) {
  IntConv c;
  c.geometry = conv_geometry(ctx.node, ctx.input(x).shape, ctx.input(w).shape, bias);
  c.x_params = QuantParamSource(ctx, x_scale, x_zero_point, ctx.input(x).dtype);
  c.w_params = QuantParamSource(ctx, w_scale, w_zero_point, ctx.input(w).dtype);
  const int64_t out_channels = c.geometry.out_channels;
  if (c.x_params.size() != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "x's scale and zero point have {} values, expected one",
             c.x_params.size());
  }
  if (c.w_params.size() != 1 && c.w_params.size() != out_channels) {
    ctx.fail(ErrorKind::kInvalidModel,
             "w's scale and zero point have {} values, expected 1 or one per output channel ({})",
             c.w_params.size(), out_channels);
  }
  CenterLayout x_layout;
  x_layout.cols = ctx.input(x).numel();
  c.x = CenteredOperand(ctx, x, c.x_params, std::move(x_layout));
  CenterLayout w_layout;
  w_layout.rows = out_channels;
  w_layout.cols = out_channels == 0 ? 0 : ctx.input(w).numel() / out_channels;
  if (c.w_params.size() > 1) w_layout.zero_points = ParamIndexing{{0}, 1, 0};
  c.w = CenteredOperand(ctx, w, c.w_params, std::move(w_layout));
  return c;
}

void infer_int_conv(InferContext& ctx, size_t x, size_t x_scale, size_t x_zero_point, size_t w,
                    size_t w_scale, size_t w_zero_point, size_t bias) {
  check_quant_input_type(ctx, x, "x");
  check_quant_input_type(ctx, w, "w");
  check_same_type(ctx, x, x_zero_point, "x_zero_point");
  check_same_type(ctx, w, w_zero_point, "w_zero_point");
  auto shape = [&](size_t i) {
    return i != kNoScale && ctx.has_input(i) ? ctx.input_shape(i) : nullptr;
  };
  for (size_t i : {x_scale, w_scale}) {
    if (i != kNoScale) check_float_input_type(ctx, i, i == x_scale ? "x_scale" : "w_scale");
  }
  check_quant_param_shapes(ctx.node(), "x", shape(x_scale), shape(x_zero_point), nullptr);
  const SymbolicShape* w_shape = shape(w);
  const Dim out_channels = w_shape && !w_shape->empty() ? (*w_shape)[0] : Dim();
  check_quant_param_shapes(ctx.node(), "w", shape(w_scale), shape(w_zero_point), &out_channels);
  auto out = conv_output_shape(ctx.node(), shape(x), w_shape, shape(bias));
  if (out) ctx.output(0).shape = std::move(out);
}

namespace {

// ConvInteger inputs: x, w, x_zero_point, w_zero_point.
void infer_conv_integer(InferContext& ctx) {
  ctx.set_output_type(0, DType::kInt32);
  infer_int_conv(ctx, 0, kNoScale, 2, 1, kNoScale, 3, kNoScale);
}

std::unique_ptr<Kernel> ref_conv_integer(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "x");
  expect_quant_type(ctx, 1, "w");
  IntConv c = make_int_conv(ctx, 0, kNoScale, 2, 1, kNoScale, 3, nullptr);
  check_planned_output(ctx, 0, {c.geometry.batch, c.geometry.out_channels}, c.geometry.out_size);
  ScratchPlan scratch;
  const size_t x_at = scratch.add(c.x.scratch_bytes());
  const size_t w_at = scratch.add(c.w.scratch_bytes());
  const size_t conv_at = scratch.add(ref::conv_centered_scratch_bytes(c.geometry));
  return ref::make_kernel(
      [c = std::move(c), x_at, w_at, conv_at](const KernelArgs& a) {
        const int16_t* x = c.x.data(a, scratch_at(a.scratch, x_at));
        const int16_t* w = c.w.data(a, scratch_at(a.scratch, w_at));
        int32_t* y = ref::out<int32_t>(a, 0);
        ref::conv_centered(
            c.geometry, x, w, scratch_at(a.scratch, conv_at),
            [y](int64_t, int64_t offset, int64_t sum) { y[offset] = wrap_to_int32(sum); });
      },
      scratch.total());
}

// MatMulInteger inputs: A, B, a_zero_point, b_zero_point.
constexpr MatMulInputs kMatMulIntegerInputs{0, kNoScale, 2, 1, kNoScale, 3};

void infer_matmul_integer(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "A");
  check_quant_input_type(ctx, 1, "B");
  check_same_type(ctx, 0, 2, "a_zero_point");
  check_same_type(ctx, 1, 3, "b_zero_point");
  ctx.set_output_type(0, DType::kInt32);
  check_matmul_param_shapes(ctx, kMatMulIntegerInputs);
  const SymbolicShape* a = ctx.input_shape(0);
  const SymbolicShape* b = ctx.input_shape(1);
  if (a && b) ctx.output(0).shape = matmul_shape(ctx.node(), *a, *b);
}

std::unique_ptr<Kernel> ref_matmul_integer(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "A");
  expect_quant_type(ctx, 1, "B");
  IntMatMul m = make_int_matmul(ctx, kMatMulIntegerInputs);
  ScratchPlan scratch;
  const size_t a_at = scratch.add(m.a.scratch_bytes());
  const size_t b_at = scratch.add(m.b.scratch_bytes());
  return ref::make_kernel(
      [m = std::move(m), a_at, b_at](const KernelArgs& args) {
        const int16_t* a = m.a.data(args, scratch_at(args.scratch, a_at));
        const int16_t* b = m.b.data(args, scratch_at(args.scratch, b_at));
        int32_t* y = ref::out<int32_t>(args, 0);
        const int64_t rows = m.product.M, cols = m.product.N;
        ref::matmul_centered(m.product, a, b,
                             [y, rows, cols](int64_t batch, int64_t row, int64_t col, int64_t sum) {
                               y[(batch * rows + row) * cols + col] = wrap_to_int32(sum);
                             });
      },
      scratch.total());
}

}  // namespace

void register_integer_ops(OpRegistry& r) {
  r.add({"", "ConvInteger", 10, infer_conv_integer, ref_conv_integer, {}});
  r.add({"", "MatMulInteger", 10, infer_matmul_integer, ref_matmul_integer, {}});
}

}  // namespace quench

// Integer matrix products on the x86 GEMM core (int8_matmul.h): the ops' own preparation
// (make_int_matmul, CenteredOperand, ChannelMultipliers, FusedRequant), B packed once when
// it is constant, and the kernel that fills the epilogue at every run.
#include "kernels/x86/int8_matmul.h"

#include <cfenv>
#include <optional>

#include "kernels/x86/cpu_features.h"
#include "kernels/x86/int8_gemm.h"
#include "ops/fused.h"
#include "ops/linalg.h"
#include "ops/quantized/integer_products.h"
#include "ops/quantized/qfused.h"

namespace quench::x86 {
namespace {

constexpr size_t kNoScale = QuantParamSource::kNoScale;

size_t round64(int64_t bytes) { return static_cast<size_t>(round_up(bytes, 64)); }

OutKind out_kind(DType t) {
  switch (t) {
    case DType::kUInt8:
      return OutKind::kU8;
    case DType::kInt8:
      return OutKind::kS8;
    case DType::kFloat32:
      return OutKind::kF32;
    default:
      return OutKind::kS32;
  }
}

// Everything a product kernel reads at run time besides the plan.
struct ProductSpec {
  size_t a_input = 0, b_input = 0;
  QuantParamSource a_params, b_params;
  OutKind out = OutKind::kS32;
  ChannelMultipliers multipliers;  // unused for kS32
  int64_t multiplier_count = 0, multiplier_col_stride = 0;
  std::optional<QuantParamSource> y;  // the output's zero point (QLinearMatMul, QGemm)
  std::optional<FusedRequant> fused;
  int bias_input = -1;  // QFusedMatMul's bias or QGemm's C
  int64_t bias_row_stride = 0, bias_col_stride = 0;
  int float_bias_input = -1;  // MatMulIntegerToFloat's bias (kF32Bias)
};

class ProductKernel final : public Kernel {
 public:
  ProductKernel(MatMulPlan plan, ProductSpec spec) : plan_(std::move(plan)), s_(std::move(spec)) {
    ScratchPlan scratch;
    multipliers_at_ = scratch.add(s_.multipliers.scratch_bytes());
    matmul_at_ = scratch.add(avx2::matmul_scratch_bytes(plan_));
    scratch_bytes_ = scratch.total();
  }

  void run(const KernelArgs& args) const override {
    Epilogue e;
    e.out = s_.out;
    if (s_.out != OutKind::kS32) {
      e.multipliers = s_.multipliers.data(args, scratch_at(args.scratch, multipliers_at_));
      e.multiplier_col_stride = s_.multiplier_col_stride;
    }
    if (s_.fused) {
      const FusedRequant::RunParams p = s_.fused->run_params(args);
      e.zero_point = p.y_zero_point;
      e.low = p.low;
      e.high = p.high;
      if (s_.fused->has_sum()) {
        e.sum_kind = s_.fused->sum_type() == DType::kInt8 ? SumKind::kS8 : SumKind::kU8;
        e.sum = args.inputs[QFusedInputs::kSum];
        e.sum_ratio = p.sum_ratio;
        e.sum_zero_point = p.sum_zero_point;
      }
    } else if (s_.y) {
      e.zero_point = s_.y->zero_point(args, 0);
    }
    if (s_.bias_input >= 0 && args.inputs[s_.bias_input] != nullptr) {
      e.bias = static_cast<const int32_t*>(args.inputs[s_.bias_input]);
      e.bias_row_stride = s_.bias_row_stride;
      e.bias_col_stride = s_.bias_col_stride;
    }
    if (s_.float_bias_input >= 0) {
      e.float_bias = static_cast<const float*>(args.inputs[s_.float_bias_input]);
    }
    if (e.multipliers != nullptr) {
      e.finite = all_finite(e.multipliers, s_.multiplier_count) && std::isfinite(e.sum_ratio);
    }
    const int32_t b_zero_point = plan_.packed_b.empty() ? s_.b_params.zero_point(args, 0) : 0;
    avx2::matmul(plan_, args.inputs[s_.a_input], s_.a_params.zero_point(args, 0),
                 args.inputs[s_.b_input], b_zero_point, e, args.outputs[0],
                 scratch_at(args.scratch, matmul_at_));
  }

  size_t scratch_bytes() const override { return scratch_bytes_; }
  int inplace_input() const override {
    return s_.fused && s_.fused->has_sum() ? static_cast<int>(QFusedInputs::kSum) : -1;
  }
  std::string impl() const override { return "x86:avx2_gemm"; }

 private:
  MatMulPlan plan_;
  ProductSpec s_;
  size_t multipliers_at_ = 0, matmul_at_ = 0, scratch_bytes_ = 0;
};

// Packs each of `matrices` centered B given transposed ([N][K] int16 each) into plan.packed_b.
void pack_constant_b(MatMulPlan& plan, const int16_t* b_transposed, int64_t matrices) {
  const int64_t size = packed_b_size(plan.k, plan.n);
  plan.packed_b.assign(static_cast<size_t>(matrices * size), 0);
  for (int64_t matrix = 0; matrix < matrices; ++matrix) {
    pack_b_transposed(b_transposed + matrix * plan.n * plan.k, plan.n, plan.k,
                      plan.packed_b.data() + matrix * size);
  }
}

void finish_plan(MatMulPlan& plan, int threads) {
  plan.pairs = pair_count(plan.k);
  plan.threads = std::max(1, threads);
  plan.a_bytes = round64(plan.a_matrices * plan.m * plan.pairs * 4);
  if (plan.packed_b.empty()) {
    plan.b_bytes = round64(plan.b_matrices * packed_b_size(plan.k, plan.n) * 4);
  }
}

enum class ProductOp { kQLinear, kQFused, kInteger, kToFloat };

std::unique_ptr<Kernel> make_matmul(KernelContext& ctx, const MatMulInputs& in, ProductOp op) {
  if (!cpu_features().avx2 || ctx.outputs.empty() || !ctx.has_input(in.a) || !ctx.has_input(in.b)) {
    return nullptr;
  }
  const TensorDesc& a = ctx.inputs[in.a];
  const TensorDesc& b = ctx.inputs[in.b];
  const TensorDesc& y = ctx.outputs[0];
  const bool integer = op == ProductOp::kInteger, to_float = op == ProductOp::kToFloat;
  const DType y_type = y.dtype;
  const bool y_ok = integer    ? y_type == DType::kInt32
                    : to_float ? y_type == DType::kFloat32
                               : is_quant_type(y_type);
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || a.numel() == 0 || b.numel() == 0 ||
      y.numel() == 0 || !y_ok) {
    return nullptr;
  }
  // Eq. (59): the vector rounding is round half to even in the default rounding mode only.
  if (!integer && std::fegetround() != FE_TONEAREST) return nullptr;
  // Invalid models are left to the reference kernel, which reports them.
  try {
    IntMatMul m = make_int_matmul(ctx, in);
    if (m.a_params.size() != 1 || m.output != y.shape) return nullptr;
    MatMulPlan plan;
    plan.a_signed = a.dtype == DType::kInt8;
    plan.b_signed = b.dtype == DType::kInt8;
    plan.m = m.product.M;
    plan.n = m.product.N;
    plan.k = m.product.K;
    plan.a_matrix = m.a_matrix;
    plan.b_matrix = m.b_matrix;
    plan.a_matrices = a.numel() / (plan.m * plan.k);
    plan.b_matrices = b.numel() / (plan.k * plan.n);
    const int64_t outputs = static_cast<int64_t>(plan.a_matrix.size());
    plan.fold_rows = plan.b_matrices == 1 && plan.a_matrices == outputs;
    for (int64_t i = 0; plan.fold_rows && i < outputs; ++i) plan.fold_rows = plan.a_matrix[i] == i;
    // B's parameters: one, or one per column shared by every matrix.
    const int64_t b_params = m.b_params.size();
    if (b_params != 1) {
      if (b_params != plan.n || m.b_index.col_stride != 1) return nullptr;
      for (int64_t offset : m.b_index.matrix_offsets) {
        if (offset != 0) return nullptr;
      }
    }
    if (m.b.scratch_bytes() == 0) {
      pack_constant_b(plan, m.b.data(KernelArgs{}, nullptr), plan.b_matrices);
    } else if (b_params != 1) {
      return nullptr;  // per-column zero points of a B read at run time
    }
    finish_plan(plan, ctx.threads);

    ProductSpec spec;
    spec.a_input = in.a;
    spec.b_input = in.b;
    spec.a_params = m.a_params;
    spec.b_params = m.b_params;
    spec.out = out_kind(y.dtype);
    if (to_float) {
      // Eq. (155): float(Σ) · (s_a · s_b[n]) [+ bias[n]].
      constexpr size_t kBias = 6;
      if (ctx.has_input(kBias)) {
        const TensorDesc& bias = ctx.inputs[kBias];
        if (bias.dtype != DType::kFloat32 || bias.shape != Shape{plan.n}) return nullptr;
        spec.out = OutKind::kF32Bias;
        spec.float_bias_input = static_cast<int>(kBias);
      }
      spec.multipliers = ChannelMultipliers(m.a_params, m.b_params, std::nullopt, b_params);
      spec.multiplier_count = b_params;
      spec.multiplier_col_stride = b_params == 1 ? 0 : 1;
    } else if (!integer) {
      if (op == ProductOp::kQFused) {
        spec.fused.emplace(ctx, m.output);
        if (spec.fused->function().active()) return nullptr;  // eq. (150): not in this epilogue
        spec.y = spec.fused->y();
        constexpr size_t kBias = QFusedInputs::kBias;
        if (ctx.has_input(kBias)) {
          const TensorDesc& bias = ctx.inputs[kBias];
          if (bias.dtype != DType::kInt32 || bias.shape != Shape{plan.n}) return nullptr;
          spec.bias_input = static_cast<int>(kBias);
          spec.bias_col_stride = 1;
        }
      } else {
        spec.y = tensor_params(ctx, 6, 7, y.dtype, "y");
      }
      spec.multipliers = ChannelMultipliers(m.a_params, m.b_params, *spec.y, b_params);
      spec.multiplier_count = b_params;
      spec.multiplier_col_stride = b_params == 1 ? 0 : 1;
    }
    return std::make_unique<ProductKernel>(std::move(plan), std::move(spec));
  } catch (const Error&) {
    return nullptr;
  }
}

}  // namespace

MatMulPlan constant_b_plan(int64_t m, int64_t k, int64_t n, bool a_signed, const int8_t* b,
                           int32_t b_zero_point, int threads) {
  MatMulPlan plan;
  plan.a_signed = a_signed;
  plan.b_signed = true;
  plan.m = m;
  plan.n = n;
  plan.k = k;
  plan.a_matrix = {0};
  plan.b_matrix = {0};
  // Eq. (33): B centered, given transposed as pack_b_transposed reads it.
  std::vector<int16_t> centered(static_cast<size_t>(n * k));
  for (int64_t row = 0; row < k; ++row) {
    for (int64_t col = 0; col < n; ++col) {
      centered[col * k + row] = static_cast<int16_t>(b[row * n + col] - b_zero_point);
    }
  }
  pack_constant_b(plan, centered.data(), 1);
  finish_plan(plan, threads);
  return plan;
}

std::unique_ptr<Kernel> make_qmatmul(KernelContext& ctx) {
  const ProductOp op =
      ctx.node.domain == kInternalDomain ? ProductOp::kQFused : ProductOp::kQLinear;
  return make_matmul(ctx, {0, 1, 2, 3, 4, 5}, op);
}

std::unique_ptr<Kernel> make_matmul_integer(KernelContext& ctx) {
  return make_matmul(ctx, {0, kNoScale, 2, 1, kNoScale, 3}, ProductOp::kInteger);
}

std::unique_ptr<Kernel> make_matmul_integer_to_float(KernelContext& ctx) {
  // Inputs: A, B, a_scale, b_scale, a_zero_point, b_zero_point, bias.
  return make_matmul(ctx, {0, 2, 4, 1, 3, 5}, ProductOp::kToFloat);
}

std::unique_ptr<Kernel> make_qgemm(KernelContext& ctx) {
  enum : size_t { kA, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint, kC, kYScale, kYZeroPoint };
  if (!cpu_features().avx2 || ctx.outputs.empty() || !ctx.has_input(kA) || !ctx.has_input(kB)) {
    return nullptr;
  }
  const TensorDesc& a = ctx.inputs[kA];
  const TensorDesc& b = ctx.inputs[kB];
  const TensorDesc& y = ctx.outputs[0];
  const bool quantized = ctx.has_input(kYScale);
  if (!is_quant_type(a.dtype) || !is_quant_type(b.dtype) || a.rank() != 2 || b.rank() != 2 ||
      a.numel() == 0 || b.numel() == 0 || y.numel() == 0 ||
      quantized != ctx.has_input(kYZeroPoint) ||
      y.dtype != (quantized ? ctx.inputs[kYZeroPoint].dtype : DType::kFloat32) ||
      (quantized && !is_quant_type(y.dtype)) || std::fegetround() != FE_TONEAREST) {
    return nullptr;
  }
  try {
    const GemmAttrs attrs = gemm_attrs(ctx.node);
    MatMulPlan plan;
    plan.m = a.shape[attrs.trans_a ? 1 : 0];
    plan.k = a.shape[attrs.trans_a ? 0 : 1];
    plan.n = b.shape[attrs.trans_b ? 0 : 1];
    if (b.shape[attrs.trans_b ? 1 : 0] != plan.k || y.shape != Shape{plan.m, plan.n}) {
      return nullptr;
    }
    ProductSpec spec;
    spec.a_input = kA;
    spec.b_input = kB;
    spec.a_params = QuantParamSource(ctx, kAScale, kAZeroPoint, a.dtype);
    spec.b_params = QuantParamSource(ctx, kBScale, kBZeroPoint, b.dtype);
    if (spec.a_params.size() != 1 ||
        (spec.b_params.size() != 1 && spec.b_params.size() != plan.n)) {
      return nullptr;
    }
    // B centered as [N][K] whatever its stored layout, as the reference centers it.
    CenterLayout b_layout{1, plan.n, plan.k, !attrs.trans_b, {}};
    if (spec.b_params.size() > 1) b_layout.zero_points = ParamIndexing{{0}, 1, 0};
    const CenteredOperand centered_b(ctx, kB, spec.b_params, std::move(b_layout));
    if (centered_b.scratch_bytes() != 0) return nullptr;
    plan.a_signed = a.dtype == DType::kInt8;
    plan.b_signed = b.dtype == DType::kInt8;
    plan.a_transposed = attrs.trans_a;
    plan.a_matrix = {0};
    plan.b_matrix = {0};
    pack_constant_b(plan, centered_b.data(KernelArgs{}, nullptr), 1);
    finish_plan(plan, ctx.threads);
    spec.out = out_kind(y.dtype);
    if (quantized) {
      spec.y = QuantParamSource(ctx, kYScale, kYZeroPoint, y.dtype);
      if (spec.y->size() != 1) return nullptr;
    }
    spec.multipliers =
        ChannelMultipliers(spec.a_params, spec.b_params, spec.y, plan.n, attrs.alpha);
    spec.multiplier_count = plan.n;
    spec.multiplier_col_stride = 1;
    if (ctx.has_input(kC)) {
      // Unidirectional broadcasting to [M, N], as the reference reads C.
      const TensorDesc& c = ctx.inputs[kC];
      const int64_t rows = c.rank() == 2 ? c.shape[0] : 1;
      const int64_t cols = c.rank() == 0 ? 1 : c.shape.back();
      if (c.dtype != DType::kInt32 || c.rank() > 2 || (rows != 1 && rows != plan.m) ||
          (cols != 1 && cols != plan.n)) {
        return nullptr;
      }
      spec.bias_input = static_cast<int>(kC);
      spec.bias_row_stride = rows == 1 ? 0 : cols;
      spec.bias_col_stride = cols == 1 ? 0 : 1;
    }
    return std::make_unique<ProductKernel>(std::move(plan), std::move(spec));
  } catch (const Error&) {
    return nullptr;
  }
}

}  // namespace quench::x86

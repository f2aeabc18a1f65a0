// com.microsoft MatMulIntegerToFloat (opset 1): an integer MatMul (numpy semantics) whose exact
// int32 sums come out as float, scaled and with a float bias (docs/quantization.md eq. (155)):
//   y = float(Σ_k (a − z_a)(b − z_b)) · (s_a · s_b[n]) + bias[n].
// ONNX Runtime's fused form of DynamicQuantizeLinear → MatMulInteger → Cast → Mul(s_a · s_b) →
// Add(bias); quench's runtime makes it from that chain (passes/fuse_matmul_integer_to_float.cc).
// A's parameters are per tensor (ONNX Runtime runs no other), B's per tensor or per column.
#include "ir/shape_util.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/domains.h"
#include "ops/linalg.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

enum : size_t { kA, kB, kAScale, kBScale, kAZeroPoint, kBZeroPoint, kBias };
constexpr MatMulInputs kInputs{kA, kAScale, kAZeroPoint, kB, kBScale, kBZeroPoint};

void infer_matmul_integer_to_float(InferContext& ctx) {
  check_quant_input_type(ctx, kA, "A");
  check_quant_input_type(ctx, kB, "B");
  check_same_type(ctx, kA, kAZeroPoint, "a_zero_point");
  check_same_type(ctx, kB, kBZeroPoint, "b_zero_point");
  for (auto [i, name] : {std::pair{kAScale, "a_scale"}, {kBScale, "b_scale"}, {kBias, "bias"}}) {
    if (!ctx.has_input(i)) {
      if (i != kBias) ctx.fail("input {} is missing", name);
      continue;
    }
    // float16 (T3) reaches here as float: the runtime computes half-precision graphs in float.
    check_float_input_type(ctx, i, name);
  }
  ctx.set_output_type(0, DType::kFloat32);
  for (size_t i : {kAScale, kAZeroPoint}) {
    const SymbolicShape* s = ctx.has_input(i) ? ctx.input_shape(i) : nullptr;
    if (s && s->size() > 1) {
      ctx.fail("A's scale and zero point must be scalars or 1-D (A per tensor), got {}",
               shape_str(*s));
    }
    if (s && s->size() == 1 && (*s)[0].known() && (*s)[0].value != 1) {
      ctx.fail("A's scale and zero point must hold one value (A per tensor), got {}",
               shape_str(*s));
    }
  }
  check_matmul_param_shapes(ctx, kInputs);
  const SymbolicShape* a = ctx.input_shape(kA);
  const SymbolicShape* b = ctx.input_shape(kB);
  if (!a || !b) return;
  ctx.output(0).shape = matmul_shape(ctx.node(), *a, *b);
  const SymbolicShape* bias = ctx.has_input(kBias) ? ctx.input_shape(kBias) : nullptr;
  const Dim n = b->empty() ? Dim() : b->back();
  if (bias &&
      (bias->size() != 1 || ((*bias)[0].known() && n.known() && (*bias)[0].value != n.value))) {
    ctx.fail("bias must be 1-D of B's last dimension (B is {}), got {}", shape_str(*b),
             shape_str(*bias));
  }
}

std::unique_ptr<Kernel> ref_matmul_integer_to_float(KernelContext& ctx) {
  expect_quant_type(ctx, kA, "A");
  expect_quant_type(ctx, kB, "B");
  IntMatMul m = make_int_matmul(ctx, kInputs);
  if (m.a_params.size() != 1) {
    ctx.fail(ErrorKind::kInvalidModel, "A's scale and zero point have {} values, expected one",
             m.a_params.size());
  }
  const bool has_bias = ctx.has_input(kBias);
  if (has_bias && ctx.input(kBias).shape != Shape{m.product.N}) {
    ctx.fail(ErrorKind::kInvalidModel, "bias is {}, expected [{}] (B's last dimension)",
             shape_str(ctx.input(kBias).shape), m.product.N);
  }
  ScratchPlan scratch;
  const size_t a_at = scratch.add(m.a.scratch_bytes());
  const size_t b_at = scratch.add(m.b.scratch_bytes());
  return ref::make_kernel(
      [m = std::move(m), has_bias, a_at, b_at](const KernelArgs& args) {
        const int16_t* a = m.a.data(args, scratch_at(args.scratch, a_at));
        const int16_t* b = m.b.data(args, scratch_at(args.scratch, b_at));
        const float* bias = has_bias ? ref::in<float>(args, kBias) : nullptr;
        const float a_scale = m.a_params.scale(args, 0);
        float* y = ref::out<float>(args, 0);
        const int64_t rows = m.product.M, cols = m.product.N;
        ref::matmul_centered(
            m.product, a, b, [&](int64_t batch, int64_t row, int64_t col, int64_t sum) {
              // Eq. (155): the int32 sum (wrapping as ONNX Runtime's accumulator), one product of
              // scales, one multiplication, one addition, each rounded to float.
              const float scale = a_scale * m.b_params.scale(args, m.b_param(batch, col));
              float value = static_cast<float>(wrap_to_int32(sum)) * scale;
              if (bias) value += bias[col];
              y[(batch * rows + row) * cols + col] = value;
            });
      },
      scratch.total());
}

}  // namespace

void register_ms_matmul_integer_to_float_op(OpRegistry& r) {
  r.add({kMsDomain,
         "MatMulIntegerToFloat",
         1,
         infer_matmul_integer_to_float,
         ref_matmul_integer_to_float,
         {}});
}

}  // namespace quench

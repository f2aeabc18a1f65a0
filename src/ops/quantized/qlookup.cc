// QLookup (domain quench.internal): y[i] = table[x[i] − q_min] for 8-bit x, with a 256-entry
// table of y's type. The QDQ-lowering pass (passes/lower_qdq*.cc) makes it for an element-wise
// float op between a DequantizeLinear and a QuantizeLinear, filling the table by eq. (40):
// table[q − q_min] = quantize(f(dequantize(q))). The table is an input (a constant in practice),
// so one kernel serves every function.
#include "kernels/ref/ref_kernel.h"
#include "ops/fused.h"
#include "ops/quantized/integer_products.h"
#include "ops/register.h"

namespace quench {
namespace {

constexpr int64_t kTableSize = 256;

void infer_qlookup(InferContext& ctx) {
  check_quant_input_type(ctx, 0, "x");
  const ValueInfo& table = ctx.input(1);
  if (table.dtype != DType::kUndefined && !is_quant_type(table.dtype)) {
    ctx.fail("input table is {}, expected uint8 or int8", dtype_name(table.dtype));
  }
  if (table.shape) {
    const SymbolicShape& s = *table.shape;
    if (s.size() != 1 || (s[0].known() && s[0].value != kTableSize)) {
      ctx.fail("input table has shape {}, expected [{}]", shape_str(s), kTableSize);
    }
  }
  ctx.output(0) = ValueInfo{table.dtype, ctx.input(0).shape, ""};
}

template <class X, class Y>
std::unique_ptr<Kernel> lookup_kernel(int64_t count) {
  return ref::make_kernel([count](const KernelArgs& a) {
    const X* x = ref::in<X>(a, 0);
    const Y* table = ref::in<Y>(a, 1);
    Y* y = ref::out<Y>(a, 0);
    for (int64_t i = 0; i < count; ++i) y[i] = table[x[i] - kQuantMin<X>];
  });
}

std::unique_ptr<Kernel> ref_qlookup(KernelContext& ctx) {
  expect_quant_type(ctx, 0, "x");
  expect_quant_type(ctx, 1, "table");
  const TensorDesc& table = ctx.input(1);
  if (table.shape != Shape{kTableSize}) {
    ctx.fail(ErrorKind::kInvalidModel, "input table has shape {}, expected [{}]",
             shape_str(table.shape), kTableSize);
  }
  const int64_t count = ctx.input(0).numel();
  return visit_quant_type(ctx.input(0).dtype, [&](auto x) {
    using X = typename decltype(x)::type;
    return visit_quant_type(table.dtype, [&](auto y) {
      using Y = typename decltype(y)::type;
      return lookup_kernel<X, Y>(count);
    });
  });
}

}  // namespace

void register_qlookup_op(OpRegistry& r) {
  r.add({kInternalDomain, "QLookup", 1, infer_qlookup, ref_qlookup, {}});
}

}  // namespace quench

// Matrix products: Gemm (opset 7+) and MatMul (opset 1+, numpy semantics).
#include "ops/linalg.h"
#include "core/check.h"

#include "ir/shape_util.h"
#include "kernels/ref/linalg.h"
#include "kernels/ref/ref_kernel.h"
#include "ops/op_registry.h"
#include "ops/register.h"

namespace quench {
namespace {

bool is_float_type(DType t) { return t == DType::kFloat32 || t == DType::kFloat64; }

// The common element type of inputs `first`..`last` that are present (kUndefined if unknown).
DType same_input_type(InferContext& ctx, size_t first, size_t last) {
  DType type = DType::kUndefined;
  for (size_t i = first; i <= last; ++i) {
    if (!ctx.has_input(i)) continue;
    const DType t = ctx.input_type(i);
    if (t == DType::kUndefined) continue;
    if (type != DType::kUndefined && t != type) {
      ctx.fail("inputs have different element types: {} and {}", dtype_name(type), dtype_name(t));
    }
    type = t;
  }
  return type;
}

// Element strides of a (>= 2-D) operand's matrices along the output batch dims `batch`.
Shape batch_strides(const Shape& operand, const Shape& batch) {
  const size_t operand_batch_rank = operand.size() - 2;
  Shape strides(batch.size(), 0);
  int64_t stride = operand[operand.size() - 2] * operand.back();
  for (size_t i = 0; i < operand_batch_rank; ++i) {
    const int64_t size = operand[operand_batch_rank - 1 - i];
    strides[batch.size() - 1 - i] = size == 1 ? 0 : stride;
    stride *= size;
  }
  return strides;
}

void infer_matmul(InferContext& ctx) {
  ctx.set_output_type(0, same_input_type(ctx, 0, 1));
  const SymbolicShape* a = ctx.input_shape(0);
  const SymbolicShape* b = ctx.input_shape(1);
  if (a == nullptr || b == nullptr) return;
  ctx.output(0).shape = matmul_shape(ctx.node(), *a, *b);
}

template <class T>
std::unique_ptr<Kernel> matmul_kernel(ref::MatMulParams p) {
  return ref::make_kernel([p = std::move(p)](const KernelArgs& a) {
    ref::matmul<T>(p, ref::in<T>(a, 0), ref::in<T>(a, 1), ref::out<T>(a, 0));
  });
}

std::unique_ptr<Kernel> ref_matmul(KernelContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  if (!is_float_type(dtype)) {
    ctx.fail(ErrorKind::kUnsupported, "MatMul supports float and double, got {}",
             dtype_name(dtype));
  }
  const MatMulGeometry g = matmul_geometry(ctx.input(0).shape, ctx.input(1).shape, ctx.node);
  ref::MatMulParams p;
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  const int64_t batch_count = shape_numel(g.batch);
  const Shape batch_index_strides = strides_of(g.batch);
  for (int64_t batch = 0; batch < batch_count; ++batch) {
    int64_t a_offset = 0, b_offset = 0;
    for (size_t d = 0; d < g.batch.size(); ++d) {
      const int64_t index = batch / batch_index_strides[d] % g.batch[d];
      a_offset += index * g.a_batch_strides[d];
      b_offset += index * g.b_batch_strides[d];
    }
    p.a_offsets.push_back(a_offset);
    p.b_offsets.push_back(b_offset);
  }
  if (dtype == DType::kFloat64) return matmul_kernel<double>(std::move(p));
  return matmul_kernel<float>(std::move(p));
}

void infer_gemm(InferContext& ctx) {
  const Node& node = ctx.node();
  if (!ctx.has_input(2) && ctx.opset() < 11) ctx.fail("input C is required before opset 11");
  ctx.set_output_type(0, same_input_type(ctx, 0, 2));
  const GemmAttrs attrs = gemm_attrs(node);
  const SymbolicShape* a = ctx.input_shape(0);
  const SymbolicShape* b = ctx.input_shape(1);
  if (a != nullptr && a->size() != 2) ctx.fail("A must be 2-D, got {}", shape_str(*a));
  if (b != nullptr && b->size() != 2) ctx.fail("B must be 2-D, got {}", shape_str(*b));
  const Dim m = a ? (*a)[attrs.trans_a ? 1 : 0] : Dim();
  const Dim k_a = a ? (*a)[attrs.trans_a ? 0 : 1] : Dim();
  const Dim k_b = b ? (*b)[attrs.trans_b ? 1 : 0] : Dim();
  const Dim n = b ? (*b)[attrs.trans_b ? 0 : 1] : Dim();
  if (k_a.known() && k_b.known() && k_a.value != k_b.value) {
    ctx.fail("inner dimensions differ: A is {} (transA={}), B is {} (transB={})", shape_str(*a),
             int(attrs.trans_a), shape_str(*b), int(attrs.trans_b));
  }
  const SymbolicShape out{m, n};
  const SymbolicShape* c = ctx.has_input(2) ? ctx.input_shape(2) : nullptr;
  if (c != nullptr) {
    // Unidirectional broadcasting: C's dims, right-aligned, are 1 or equal to [M,N]'s.
    bool ok = c->size() <= 2;
    for (size_t i = 0; ok && i < c->size(); ++i) {
      const Dim& cd = (*c)[c->size() - 1 - i];
      const Dim& od = out[1 - i];
      ok = !cd.known() || cd.value == 1 || !od.known() || cd.value == od.value;
    }
    if (!ok) {
      ctx.fail("C of shape {} cannot be broadcast to the output shape {}", shape_str(*c),
               shape_str(out));
    }
  }
  ctx.output(0).shape = out;
}

template <class T>
std::unique_ptr<Kernel> gemm_kernel(const ref::GemmParams& p, bool has_c) {
  return ref::make_kernel([p, has_c](const KernelArgs& a) {
    ref::gemm<T>(p, ref::in<T>(a, 0), ref::in<T>(a, 1), has_c ? ref::in<T>(a, 2) : nullptr,
                 ref::out<T>(a, 0));
  });
}

std::unique_ptr<Kernel> ref_gemm(KernelContext& ctx) {
  const DType dtype = ctx.input(0).dtype;
  if (!is_float_type(dtype)) {
    ctx.fail(ErrorKind::kUnsupported, "Gemm supports float and double, got {}", dtype_name(dtype));
  }
  const GemmAttrs attrs = gemm_attrs(ctx.node);
  const Shape& a = ctx.input(0).shape;
  const Shape& b = ctx.input(1).shape;
  ref::GemmParams p;
  p.trans_a = attrs.trans_a;
  p.trans_b = attrs.trans_b;
  p.alpha = attrs.alpha;
  p.beta = attrs.beta;
  p.M = a[attrs.trans_a ? 1 : 0];
  p.K = a[attrs.trans_a ? 0 : 1];
  p.N = b[attrs.trans_b ? 0 : 1];
  const bool has_c = ctx.has_input(2);
  if (has_c) {
    const Shape& c = ctx.input(2).shape;
    const int64_t c_rows = c.size() == 2 ? c[0] : 1;
    const int64_t c_cols = c.empty() ? 1 : c.back();
    p.c_row_stride = c_rows == 1 ? 0 : c_cols;
    p.c_col_stride = c_cols == 1 ? 0 : 1;
  }
  if (dtype == DType::kFloat64) return gemm_kernel<double>(p, has_c);
  return gemm_kernel<float>(p, has_c);
}

}  // namespace

GemmAttrs gemm_attrs(const Node& node) {
  GemmAttrs attrs;
  attrs.trans_a = node.attr_int("transA", 0) != 0;
  attrs.trans_b = node.attr_int("transB", 0) != 0;
  attrs.alpha = node.attr_float("alpha", 1.f);
  attrs.beta = node.attr_float("beta", 1.f);
  return attrs;
}

MatMulGeometry matmul_geometry(const Shape& a, const Shape& b, const Node& node) {
  MatMulGeometry g;
  g.output = *concrete(matmul_shape(node, symbolic(a), symbolic(b)));
  Shape a2 = a, b2 = b;
  if (a.size() == 1) a2.insert(a2.begin(), 1);
  if (b.size() == 1) b2.push_back(1);
  g.M = a2[a2.size() - 2];
  g.K = a2.back();
  g.N = b2.back();
  g.batch = Shape(g.output.begin(), g.output.end() - (a.size() > 1) - (b.size() > 1));
  g.a_batch_strides = batch_strides(a2, g.batch);
  g.b_batch_strides = batch_strides(b2, g.batch);
  return g;
}

SymbolicShape matmul_shape(const Node& node, const SymbolicShape& a, const SymbolicShape& b) {
  if (a.empty() || b.empty()) {
    fail_node(node, "matrix products do not take scalars: A is {}, B is {}", shape_str(a),
              shape_str(b));
  }
  SymbolicShape a2 = a, b2 = b;
  if (a.size() == 1) a2.insert(a2.begin(), Dim(1));
  if (b.size() == 1) b2.push_back(Dim(1));
  const Dim& k_a = a2.back();
  const Dim& k_b = b2[b2.size() - 2];
  if (k_a.known() && k_b.known() && k_a.value != k_b.value) {
    fail_node(node, "inner dimensions differ: A is {}, B is {}", shape_str(a), shape_str(b));
  }
  auto batch = broadcast_shapes(SymbolicShape(a2.begin(), a2.end() - 2),
                                SymbolicShape(b2.begin(), b2.end() - 2));
  if (!batch) {
    fail_node(node, "batch dimensions cannot be broadcast: A is {}, B is {}", shape_str(a),
              shape_str(b));
  }
  SymbolicShape out = std::move(*batch);
  if (a.size() > 1) out.push_back(a2[a2.size() - 2]);
  if (b.size() > 1) out.push_back(b2.back());
  return out;
}

void register_linalg_ops(OpRegistry& r) {
  r.add({"", "Gemm", 7, infer_gemm, ref_gemm, {}});
  r.add({"", "MatMul", 1, infer_matmul, ref_matmul, {}});
}

}  // namespace quench

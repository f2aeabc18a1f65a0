// Gemm and MatMul. With Y = alpha op(A) op(B) + beta C (docs/training.md (T4)-(T6)):
//   d op(A) = alpha dY op(B)^T,  d op(B) = alpha op(A)^T dY,  dC = beta * (dY summed over the
//   axes C was broadcast along).
// MatMul is Gemm with alpha = 1, no C, over broadcast batch dimensions.
#include <string>
#include <vector>

#include "quench/error.h"
#include "train/gemm.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

struct GemmDims {
  int64_t m, n, k;
  bool ta, tb;
  float alpha, beta;
};

GemmDims gemm_dims(const Node& node, const Tensor& a, const Tensor& b) {
  if (a.rank() != 2 || b.rank() != 2) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": A " + shape_str(a.shape()) +
                                              " and B " + shape_str(b.shape()) +
                                              " must be matrices");
  }
  GemmDims d{};
  d.ta = node.attr_int("transA", 0) != 0;
  d.tb = node.attr_int("transB", 0) != 0;
  d.alpha = node.attr_float("alpha", 1.0f);
  d.beta = node.attr_float("beta", 1.0f);
  d.m = d.ta ? a.dim(1) : a.dim(0);
  d.k = d.ta ? a.dim(0) : a.dim(1);
  d.n = d.tb ? b.dim(0) : b.dim(1);
  const int64_t kb = d.tb ? b.dim(1) : b.dim(0);
  if (kb != d.k) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": A " + shape_str(a.shape()) +
                                              " and B " + shape_str(b.shape()) +
                                              " have different inner sizes");
  }
  return d;
}

std::vector<Tensor> gemm_forward(const Node& node, const std::vector<const Tensor*>& in) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": needs A and B");
  }
  const Tensor& a = *in[0];
  const Tensor& b = *in[1];
  const GemmDims d = gemm_dims(node, a, b);
  Tensor y = Tensor::zeros(DType::kFloat32, {d.m, d.n});
  float beta = 0.0f;
  if (in.size() > 2 && in[2] != nullptr && d.beta != 0.0f) {
    y = broadcast_to(*in[2], {d.m, d.n}).clone();
    beta = d.beta;
  }
  sgemm(d.ta, d.tb, d.m, d.n, d.k, d.alpha, a.data<float>(), a.dim(1), b.data<float>(), b.dim(1),
        beta, y.data<float>(), d.n);
  return {y};
}

// dA and dB of Y = alpha op(A) op(B) for one matrix product (pointers into batched tensors).
void matrix_backward(const GemmDims& d, const float* a, const float* b, const float* dy, float* da,
                     float* db) {
  const int64_t lda = d.ta ? d.m : d.k;
  const int64_t ldb = d.tb ? d.k : d.n;
  if (da != nullptr) {
    if (!d.ta) {
      sgemm(false, !d.tb, d.m, d.k, d.n, d.alpha, dy, d.n, b, ldb, 1.0f, da, d.k);
    } else {
      sgemm(d.tb, true, d.k, d.m, d.n, d.alpha, b, ldb, dy, d.n, 1.0f, da, d.m);
    }
  }
  if (db != nullptr) {
    if (!d.tb) {
      sgemm(!d.ta, false, d.k, d.n, d.m, d.alpha, a, lda, dy, d.n, 1.0f, db, d.n);
    } else {
      sgemm(true, d.ta, d.n, d.k, d.m, d.alpha, dy, d.n, a, lda, 1.0f, db, d.k);
    }
  }
}

std::vector<Tensor> gemm_backward(const GradContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const GemmDims d = gemm_dims(ctx.node, a, b);
  const Tensor& dy = ctx.output_grads[0];
  std::vector<Tensor> grads(ctx.inputs.size());
  if (ctx.needs(0)) grads[0] = Tensor::zeros(DType::kFloat32, a.shape());
  if (ctx.needs(1)) grads[1] = Tensor::zeros(DType::kFloat32, b.shape());
  matrix_backward(d, a.data<float>(), b.data<float>(), dy.data<float>(),
                  ctx.needs(0) ? grads[0].data<float>() : nullptr,
                  ctx.needs(1) ? grads[1].data<float>() : nullptr);
  if (ctx.needs(2)) {
    Tensor dc = reduce_to_shape(dy, ctx.input(2).shape()).clone();
    for (float& v : dc.values<float>()) v *= d.beta;
    grads[2] = dc;
  }
  return grads;
}

std::vector<Tensor> matmul_backward(const GradContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  if (a.rank() < 2 || b.rank() < 2) {
    throw Error(ErrorKind::kUnsupported,
                ctx.node.describe() + ": the MatMul gradient needs operands of rank >= 2, got " +
                    shape_str(a.shape()) + " and " + shape_str(b.shape()));
  }
  const Tensor& dy = ctx.output_grads[0];
  // Batch dims broadcast to those of Y; the operands are materialised at that batch shape.
  Shape batch(dy.shape().begin(), dy.shape().end() - 2);
  Shape a_full = batch, b_full = batch;
  a_full.insert(a_full.end(), {a.dim(-2), a.dim(-1)});
  b_full.insert(b_full.end(), {b.dim(-2), b.dim(-1)});
  const Tensor af = broadcast_to(a, a_full);
  const Tensor bf = broadcast_to(b, b_full);
  GemmDims d{a.dim(-2), b.dim(-1), a.dim(-1), false, false, 1.0f, 0.0f};
  const int64_t count = shape_numel(batch);
  Tensor da = ctx.needs(0) ? Tensor::zeros(DType::kFloat32, a_full) : Tensor();
  Tensor db = ctx.needs(1) ? Tensor::zeros(DType::kFloat32, b_full) : Tensor();
  for (int64_t i = 0; i < count; ++i) {
    matrix_backward(d, af.data<float>() + i * d.m * d.k, bf.data<float>() + i * d.k * d.n,
                    dy.data<float>() + i * d.m * d.n,
                    da.defined() ? da.data<float>() + i * d.m * d.k : nullptr,
                    db.defined() ? db.data<float>() + i * d.k * d.n : nullptr);
  }
  std::vector<Tensor> grads(2);
  if (da.defined()) grads[0] = reduce_to_shape(da, a.shape());
  if (db.defined()) grads[1] = reduce_to_shape(db, b.shape());
  return grads;
}

}  // namespace

void register_linalg_gradients(GradientTable& t) {
  t.emplace_back("Gemm", GradientDef{gemm_backward, gemm_forward, {}});
  t.emplace_back("MatMul", GradientDef{matmul_backward, {}, {}});
}

}  // namespace quench::train

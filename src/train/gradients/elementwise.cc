// Add, Sub, Mul, Div, Pow and Where with NumPy broadcasting: each operand's gradient is the
// element-wise one summed over the axes along which that operand was broadcast (docs/training.md
// (T8), (T25)-(T26)).
#include <cmath>
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

enum class Binary { kAdd, kSub, kMul, kDiv };

BackwardFn binary(Binary op) {
  return [op](const GradContext& ctx) {
    const Tensor& a = ctx.input(0);
    const Tensor& b = ctx.input(1);
    const Tensor& dy = ctx.output_grads[0];
    const Shape& full = dy.shape();
    std::vector<Tensor> grads(2);
    const int64_t n = dy.numel();
    const float* g = dy.data<float>();
    if (op == Binary::kAdd || op == Binary::kSub) {
      if (ctx.needs(0)) grads[0] = reduce_to_shape(dy, a.shape());
      if (ctx.needs(1)) {
        Tensor db = reduce_to_shape(dy, b.shape()).clone();
        if (op == Binary::kSub) {
          for (float& v : db.values<float>()) v = -v;
        }
        grads[1] = db;
      }
      return grads;
    }
    const Tensor af = broadcast_to(a, full);
    const Tensor bf = broadcast_to(b, full);
    const float* pa = af.data<float>();
    const float* pb = bf.data<float>();
    if (ctx.needs(0)) {
      Tensor da = Tensor::empty(DType::kFloat32, full);
      float* d = da.data<float>();
      for (int64_t i = 0; i < n; ++i) d[i] = op == Binary::kMul ? g[i] * pb[i] : g[i] / pb[i];
      grads[0] = reduce_to_shape(da, a.shape());
    }
    if (ctx.needs(1)) {
      Tensor db = Tensor::empty(DType::kFloat32, full);
      float* d = db.data<float>();
      for (int64_t i = 0; i < n; ++i) {
        d[i] = op == Binary::kMul ? g[i] * pa[i] : -g[i] * pa[i] / (pb[i] * pb[i]);
      }
      grads[1] = reduce_to_shape(db, b.shape());
    }
    return grads;
  };
}

// Pow(A, B) = A^B with broadcasting: dA = dY·B·A^(B−1); dB = dY·Y·ln A where A > 0 (0 elsewhere,
// where the real power is defined only for integer B).
std::vector<Tensor> pow_backward(const GradContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& dy = ctx.output_grads[0];
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) {
    throw Error(ErrorKind::kUnsupported, ctx.node.describe() +
                                             ": training supports Pow on float32 base and "
                                             "exponent");
  }
  const Shape& full = dy.shape();
  const Tensor af = broadcast_to(a, full);
  const Tensor bf = broadcast_to(b, full);
  const float* pa = af.data<float>();
  const float* pb = bf.data<float>();
  const float* g = dy.data<float>();
  const int64_t n = dy.numel();
  std::vector<Tensor> grads(2);
  if (ctx.needs(0)) {
    Tensor da = Tensor::empty(DType::kFloat32, full);
    float* d = da.data<float>();
    for (int64_t i = 0; i < n; ++i) d[i] = g[i] * pb[i] * std::pow(pa[i], pb[i] - 1.0f);
    grads[0] = reduce_to_shape(da, a.shape());
  }
  if (ctx.needs(1)) {
    Tensor db = Tensor::empty(DType::kFloat32, full);
    float* d = db.data<float>();
    for (int64_t i = 0; i < n; ++i) {
      d[i] = pa[i] > 0 ? g[i] * std::pow(pa[i], pb[i]) * std::log(pa[i]) : 0.0f;
    }
    grads[1] = reduce_to_shape(db, b.shape());
  }
  return grads;
}

// Where(C, X, Y): dX = dY where C, dY = dY where not C, each summed down to its operand's shape.
std::vector<Tensor> where_backward(const GradContext& ctx) {
  const Tensor& c = ctx.input(0);
  const Tensor& dy = ctx.output_grads[0];
  const Shape& full = dy.shape();
  if (c.dtype() != DType::kBool) {
    throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": condition is " +
                                              std::string(dtype_name(c.dtype())) + ", not bool");
  }
  Tensor mask = Tensor::empty(DType::kFloat32, c.shape());
  for (int64_t i = 0; i < c.numel(); ++i) mask.data<float>()[i] = c.data<bool>()[i] ? 1.0f : 0.0f;
  const Tensor mf = broadcast_to(mask, full);
  const float* pc = mf.data<float>();
  const float* g = dy.data<float>();
  std::vector<Tensor> grads(3);
  for (int side = 1; side <= 2; ++side) {
    if (!ctx.needs(side)) continue;
    Tensor d = Tensor::empty(DType::kFloat32, full);
    float* pd = d.data<float>();
    for (int64_t i = 0; i < dy.numel(); ++i) pd[i] = ((pc[i] != 0.0f) == (side == 1)) ? g[i] : 0.0f;
    grads[side] = reduce_to_shape(d, ctx.input(side).shape());
  }
  return grads;
}

}  // namespace

void register_elementwise_gradients(GradientTable& t) {
  t.emplace_back("Add", GradientDef{binary(Binary::kAdd), {}, {}});
  t.emplace_back("Sub", GradientDef{binary(Binary::kSub), {}, {}});
  t.emplace_back("Mul", GradientDef{binary(Binary::kMul), {}, {}});
  t.emplace_back("Div", GradientDef{binary(Binary::kDiv), {}, {}});
  t.emplace_back("Pow", GradientDef{pow_backward, {}, {}});
  t.emplace_back("Where", GradientDef{where_backward, {}, {0}});
}

}  // namespace quench::train

// Add, Sub, Mul, Div with NumPy broadcasting: each operand's gradient is the element-wise one
// summed over the axes along which that operand was broadcast (docs/training.md (T8)).
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

}  // namespace

void register_elementwise_gradients(GradientTable& t) {
  t.emplace_back("Add", GradientDef{binary(Binary::kAdd), {}, {}});
  t.emplace_back("Sub", GradientDef{binary(Binary::kSub), {}, {}});
  t.emplace_back("Mul", GradientDef{binary(Binary::kMul), {}, {}});
  t.emplace_back("Div", GradientDef{binary(Binary::kDiv), {}, {}});
}

}  // namespace quench::train

// Softmax along one axis (opset >= 13; before 13, over the dims from `axis` on, flattened):
// dX = Y ⊙ (dY − Σ_axis dY ⊙ Y)   (docs/training.md (T18)). oneDNN's softmax backward is the
// fast path (kernels/onednn/softmax_training.h); the loop here is the reference.
#include <vector>

#include "quench/error.h"
#include "train/gradients/reference.h"

#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/softmax_training.h"
#endif

namespace quench::train {

namespace {

// The softmax's extents [outer, size, inner] (the softmax along `size`).
struct Extents {
  int64_t outer = 1, size = 1, inner = 1;
};

Extents softmax_extents(const GradContext& ctx) {
  const Tensor& y = *ctx.outputs[0];
  const int rank = y.rank();
  int64_t axis = ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1);
  if (axis < -rank || axis >= rank) {
    throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": axis out of range");
  }
  if (axis < 0) axis += rank;
  Extents e;
  for (int d = 0; d < rank; ++d) {
    if (d < axis) e.outer *= y.dim(d);
    if (d == axis) e.size *= y.dim(d);
    if (d > axis) (ctx.opset >= 13 ? e.inner : e.size) *= y.dim(d);
  }
  return e;
}

std::vector<Tensor> softmax_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  const Tensor* y = ctx.outputs.empty() ? nullptr : ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  if (y != nullptr && dy.defined() && y->dtype() == DType::kFloat32 &&
      dy.dtype() == DType::kFloat32 && dy.shape() == y->shape()) {
    const Extents e = softmax_extents(ctx);
    Tensor dx = Tensor::empty(DType::kFloat32, y->shape());
    if (onednn::softmax_backward(e.outer, e.size, e.inner, y->data<float>(), dy.data<float>(),
                                 dx.data<float>())) {
      return {dx};
    }
  }
#endif
  return softmax_backward_reference(ctx);
}

}  // namespace

std::vector<Tensor> softmax_backward_reference(const GradContext& ctx) {
  const Tensor& y = *ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  const auto [outer, size, inner] = softmax_extents(ctx);
  Tensor dx = Tensor::empty(DType::kFloat32, y.shape());
  const float* py = y.data<float>();
  const float* pg = dy.data<float>();
  float* pd = dx.data<float>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const int64_t base = o * size * inner + i;
      double dot = 0;
      for (int64_t k = 0; k < size; ++k) dot += pg[base + k * inner] * py[base + k * inner];
      for (int64_t k = 0; k < size; ++k) {
        const int64_t at = base + k * inner;
        pd[at] = static_cast<float>(py[at] * (pg[at] - dot));
      }
    }
  }
  return {dx};
}

void register_softmax_gradients(GradientTable& t) {
  t.emplace_back("Softmax", GradientDef{softmax_backward, {}, {}});
}

}  // namespace quench::train

// Softmax along one axis (opset >= 13; before 13, over the dims from `axis` on, flattened):
// dX = Y ⊙ (dY − Σ_axis dY ⊙ Y)   (docs/training.md (T18)).
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"

namespace quench::train {

namespace {

std::vector<Tensor> softmax_backward(const GradContext& ctx) {
  const Tensor& y = *ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  const int rank = y.rank();
  int64_t axis = ctx.node.attr_int("axis", ctx.opset >= 13 ? -1 : 1);
  if (axis < -rank || axis >= rank) {
    throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": axis out of range");
  }
  if (axis < 0) axis += rank;
  int64_t outer = 1, size = 1, inner = 1;
  for (int d = 0; d < rank; ++d) {
    if (d < axis) outer *= y.dim(d);
    if (d == axis) size *= y.dim(d);
    if (d > axis) (ctx.opset >= 13 ? inner : size) *= y.dim(d);
  }
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

}  // namespace

void register_softmax_gradients(GradientTable& t) {
  t.emplace_back("Softmax", GradientDef{softmax_backward, {}, {}});
}

}  // namespace quench::train

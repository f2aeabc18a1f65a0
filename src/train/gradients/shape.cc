// Shape-only ops (docs/training.md (T10)): Flatten, Reshape, Identity, Squeeze and Unsqueeze
// move no data, so dX is dY viewed with X's shape; Transpose applies the inverse permutation.
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"

namespace quench::train {

namespace {

std::vector<Tensor> view_backward(const GradContext& ctx) {
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = ctx.output_grads[0].reshaped(ctx.input(0).shape());
  return grads;
}

std::vector<Tensor> transpose_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& dy = ctx.output_grads[0];
  const int rank = x.rank();
  std::vector<int64_t> perm = ctx.node.attr_ints("perm");
  if (perm.empty()) {
    for (int d = rank - 1; d >= 0; --d) perm.push_back(d);
  }
  // y[i_0..] = x[j] with j[perm[d]] = i[d]: scatter dy back the same way.
  std::vector<int64_t> x_strides(rank, 1);
  for (int d = rank - 2; d >= 0; --d) x_strides[d] = x_strides[d + 1] * x.dim(d + 1);
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* g = dy.data<float>();
  float* o = dx.data<float>();
  std::vector<int64_t> index(rank, 0);
  for (int64_t i = 0; i < dy.numel(); ++i) {
    int64_t offset = 0;
    for (int d = 0; d < rank; ++d) offset += index[d] * x_strides[perm[d]];
    o[offset] = g[i];
    for (int d = rank - 1; d >= 0; --d) {
      if (++index[d] < dy.dim(d)) break;
      index[d] = 0;
    }
  }
  return {dx};
}

}  // namespace

void register_shape_gradients(GradientTable& t) {
  for (const char* op : {"Flatten", "Identity", "Squeeze", "Unsqueeze"}) {
    t.emplace_back(op, GradientDef{view_backward, {}, {1}});
  }
  t.emplace_back("Reshape", GradientDef{view_backward, {}, {1}});
  t.emplace_back("Transpose", GradientDef{transpose_backward, {}, {}});
}

}  // namespace quench::train

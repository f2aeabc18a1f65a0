// LayerNormalization over the dims from `axis` on (docs/training.md (T20)). With x̂ = (x − μ)/σ
// over a group of n elements, g = dY ⊙ γ:
//   dX = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / σ,  dγ = Σ_groups dY ⊙ x̂,  dβ = Σ_groups dY.
#include <cmath>
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"
#include "train/tensor_math.h"

namespace quench::train {

namespace {

std::vector<Tensor> layer_norm_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& dy = ctx.output_grads[0];
  const int rank = x.rank();
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank) {
    throw Error(ErrorKind::kInvalidModel, ctx.node.describe() + ": axis out of range");
  }
  if (axis < 0) axis += rank;
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Shape group_shape(x.shape().begin() + axis, x.shape().end());
  const int64_t n = shape_numel(group_shape);
  const int64_t groups = n > 0 ? x.numel() / n : 0;
  const Tensor scale = broadcast_to(ctx.input(1), group_shape);
  const float* px = x.data<float>();
  const float* pg = dy.data<float>();
  const float* ps = scale.data<float>();
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  Tensor dscale = Tensor::zeros(DType::kFloat32, group_shape);
  Tensor dbias = Tensor::zeros(DType::kFloat32, group_shape);
  std::vector<double> xhat(static_cast<size_t>(n)), g(static_cast<size_t>(n));
  for (int64_t k = 0; k < groups; ++k) {
    const float* xr = px + k * n;
    const float* gr = pg + k * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += xr[i];
    mean /= static_cast<double>(n);
    for (int64_t i = 0; i < n; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= static_cast<double>(n);
    const double inv = 1.0 / std::sqrt(var + eps);
    double mean_g = 0, mean_gx = 0;
    for (int64_t i = 0; i < n; ++i) {
      xhat[i] = (xr[i] - mean) * inv;
      g[i] = static_cast<double>(gr[i]) * ps[i];
      mean_g += g[i];
      mean_gx += g[i] * xhat[i];
      dscale.data<float>()[i] += static_cast<float>(gr[i] * xhat[i]);
      dbias.data<float>()[i] += gr[i];
    }
    mean_g /= static_cast<double>(n);
    mean_gx /= static_cast<double>(n);
    float* dr = dx.data<float>() + k * n;
    for (int64_t i = 0; i < n; ++i) {
      dr[i] = static_cast<float>((g[i] - mean_g - xhat[i] * mean_gx) * inv);
    }
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = dx;
  if (ctx.needs(1)) grads[1] = reduce_to_shape(dscale, ctx.input(1).shape());
  if (ctx.needs(2)) grads[2] = reduce_to_shape(dbias, ctx.input(2).shape());
  return grads;
}

}  // namespace

void register_norm_gradients(GradientTable& t) {
  t.emplace_back("LayerNormalization", GradientDef{layer_norm_backward, {}, {}});
}

}  // namespace quench::train

// BatchNormalization in training mode (docs/training.md (T21)-(T22)) and LayerNormalization over
// the dims from `axis` on (docs/training.md (T20)). With x̂ = (x − μ)/σ over a group of n elements,
// g = dY ⊙ γ:
//   dX = (g − mean(g) − x̂ ⊙ mean(g ⊙ x̂)) / σ,  dγ = Σ_groups dY ⊙ x̂,  dβ = Σ_groups dY.
// Batch norm's training forward and backward run on oneDNN's primitives where they take the node
// (kernels/onednn/batch_norm_training.h); the loops here are the reference (in double sums).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "quench/error.h"
#include "train/gradients/reference.h"
#include "train/tensor_math.h"

#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/batch_norm_training.h"
#include "kernels/onednn/layer_norm_training.h"
#endif

namespace quench::train {

std::vector<Tensor> layer_norm_backward_reference(const GradContext& ctx) {
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

namespace {

#ifdef QUENCH_WITH_ONEDNN
// (T20) on oneDNN where γ (and β) cover the whole normalized group and everything is float.
std::vector<Tensor> layer_norm_backward_fast(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& dy = ctx.output_grads[0];
  const int rank = x.rank();
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank || !dy.defined() || dy.shape() != x.shape()) return {};
  if (axis < 0) axis += rank;
  const Shape group_shape(x.shape().begin() + axis, x.shape().end());
  const int64_t n = shape_numel(group_shape);
  const Tensor* gamma = ctx.inputs.size() > 1 ? ctx.inputs[1] : nullptr;
  const Tensor* beta = ctx.inputs.size() > 2 ? ctx.inputs[2] : nullptr;
  auto whole = [&](const Tensor* t) {
    return t != nullptr && t->dtype() == DType::kFloat32 && t->numel() == n;
  };
  if (x.dtype() != DType::kFloat32 || dy.dtype() != DType::kFloat32 || n == 0 || !whole(gamma) ||
      (beta != nullptr && !whole(beta))) {
    return {};
  }
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  Tensor dgamma = Tensor::empty(DType::kFloat32, gamma->shape());
  Tensor dbeta = beta ? Tensor::empty(DType::kFloat32, beta->shape()) : Tensor();
  if (!onednn::layer_norm_backward(
          x.numel() / n, n, ctx.node.attr_float("epsilon", 1e-5f), x.data<float>(),
          gamma->data<float>(), beta ? beta->data<float>() : nullptr, dy.data<float>(),
          dx.data<float>(), dgamma.data<float>(), beta ? dbeta.data<float>() : nullptr)) {
    return {};
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = std::move(dx);
  if (ctx.needs(1)) grads[1] = std::move(dgamma);
  if (beta && ctx.needs(2)) grads[2] = std::move(dbeta);
  return grads;
}
#endif

std::vector<Tensor> layer_norm_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  if (std::vector<Tensor> fast = layer_norm_backward_fast(ctx); !fast.empty()) return fast;
#endif
  return layer_norm_backward_reference(ctx);
}

// Per-channel statistics of X [N, C, spatial...] over N and the spatial dims.
struct ChannelStats {
  int64_t batch, channels, spatial;
  std::vector<double> mean, var;
};

// x's batch, channel and spatial extents (statistics empty).
ChannelStats channel_dims(const Node& node, const Tensor& x) {
  if (x.rank() < 2) {
    throw Error(ErrorKind::kInvalidModel,
                node.describe() + ": input " + shape_str(x.shape()) + " has no channel dim");
  }
  return ChannelStats{
      x.dim(0), x.dim(1), x.numel() / std::max<int64_t>(1, x.dim(0) * x.dim(1)), {}, {}};
}

ChannelStats channel_stats(const Node& node, const Tensor& x) {
  ChannelStats s = channel_dims(node, x);
  s.mean.assign(static_cast<size_t>(s.channels), 0.0);
  s.var.assign(static_cast<size_t>(s.channels), 0.0);
  const float* px = x.data<float>();
  const double count = static_cast<double>(s.batch * s.spatial);
  for (int64_t c = 0; c < s.channels; ++c) {
    double sum = 0, sq = 0;
    for (int64_t n = 0; n < s.batch; ++n) {
      const float* row = px + (n * s.channels + c) * s.spatial;
      for (int64_t i = 0; i < s.spatial; ++i) sum += row[i];
    }
    const double mean = sum / count;
    for (int64_t n = 0; n < s.batch; ++n) {
      const float* row = px + (n * s.channels + c) * s.spatial;
      for (int64_t i = 0; i < s.spatial; ++i) sq += (row[i] - mean) * (row[i] - mean);
    }
    s.mean[c] = mean;
    s.var[c] = sq / count;
  }
  return s;
}

// The same dimensions with the running statistics `mean` and `var` (nothing computed from x).
ChannelStats running_stats(const Node& node, const Tensor& x, const Tensor& mean,
                           const Tensor& var) {
  ChannelStats s = channel_dims(node, x);
  const float* m = mean.data<float>();
  const float* v = var.data<float>();
  s.mean.assign(m, m + s.channels);
  s.var.assign(v, v + s.channels);
  return s;
}

const Tensor& required(const Node& node, const std::vector<const Tensor*>& in, size_t i) {
  if (i >= in.size() || in[i] == nullptr) {
    throw Error(ErrorKind::kInvalidModel,
                node.describe() + ": input " + std::to_string(i) + " is required");
  }
  return *in[i];
}

}  // namespace

// (T21) Training-mode BatchNormalization: Y = γ (X − μ_B) / √(σ²_B + ε) + β with the batch's
// per-channel mean and (population) variance; running statistics
// r ← momentum · r + (1 − momentum) · batch statistic.
std::vector<Tensor> batch_norm_training_forward_reference(const Node& node,
                                                          const std::vector<const Tensor*>& in,
                                                          UpdatedInputs& updated) {
  const Tensor& x = required(node, in, 0);
  const float* gamma = required(node, in, 1).data<float>();
  const float* beta = required(node, in, 2).data<float>();
  const Tensor& running_mean = required(node, in, 3);
  const Tensor& running_var = required(node, in, 4);
  const double eps = node.attr_float("epsilon", 1e-5f);
  const float momentum = node.attr_float("momentum", 0.9f);
  const ChannelStats s = channel_stats(node, x);
  Tensor y = Tensor::empty(DType::kFloat32, x.shape());
  Tensor new_mean = Tensor::empty(DType::kFloat32, running_mean.shape());
  Tensor new_var = Tensor::empty(DType::kFloat32, running_var.shape());
  for (int64_t c = 0; c < s.channels; ++c) {
    const double inv = 1.0 / std::sqrt(s.var[c] + eps);
    for (int64_t n = 0; n < s.batch; ++n) {
      const int64_t base = (n * s.channels + c) * s.spatial;
      for (int64_t i = 0; i < s.spatial; ++i) {
        y.data<float>()[base + i] =
            static_cast<float>(gamma[c] * (x.data<float>()[base + i] - s.mean[c]) * inv + beta[c]);
      }
    }
    new_mean.data<float>()[c] =
        static_cast<float>(momentum * running_mean.data<float>()[c] + (1.0 - momentum) * s.mean[c]);
    new_var.data<float>()[c] =
        static_cast<float>(momentum * running_var.data<float>()[c] + (1.0 - momentum) * s.var[c]);
  }
  updated.emplace_back(3, new_mean);
  updated.emplace_back(4, new_var);
  std::vector<Tensor> outputs = {y};
  if (node.outputs.size() > 1) outputs.push_back(new_mean);
  if (node.outputs.size() > 2) outputs.push_back(new_var);
  return outputs;
}

// (T22) Its gradient, per channel over the n = N·spatial elements, x̂ = (x − μ_B)/σ_B,
// g = dY · γ:  dX = (g − mean(g) − x̂ · mean(g x̂)) / σ_B,  dγ = Σ dY x̂,  dβ = Σ dY.
// (T27) Frozen (inference mode), μ and σ are the running statistics, constants: the same with
// the mean(g) and mean(g x̂) terms absent, dX = g / σ_r.
std::vector<Tensor> batch_norm_backward_reference(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const float* gamma = ctx.input(1).data<float>();
  const double eps = ctx.node.attr_float("epsilon", 1e-5f);
  const Tensor& dy = ctx.output_grads[0];
  if (!dy.defined()) return std::vector<Tensor>(ctx.inputs.size());
  const bool frozen = !ctx.training;
  const ChannelStats s =
      frozen ? running_stats(ctx.node, x, ctx.input(3), ctx.input(4)) : channel_stats(ctx.node, x);
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  Tensor dgamma = Tensor::zeros(DType::kFloat32, ctx.input(1).shape());
  Tensor dbeta = Tensor::zeros(DType::kFloat32, ctx.input(2).shape());
  const float* px = x.data<float>();
  const float* pg = dy.data<float>();
  const double count = static_cast<double>(s.batch * s.spatial);
  for (int64_t c = 0; c < s.channels; ++c) {
    const double inv = 1.0 / std::sqrt(s.var[c] + eps);
    double sum_g = 0, sum_gx = 0;
    for (int64_t n = 0; n < s.batch; ++n) {
      const int64_t base = (n * s.channels + c) * s.spatial;
      for (int64_t i = 0; i < s.spatial; ++i) {
        const double xhat = (px[base + i] - s.mean[c]) * inv;
        sum_g += pg[base + i];
        sum_gx += pg[base + i] * xhat;
      }
    }
    dgamma.data<float>()[c] = static_cast<float>(sum_gx);
    dbeta.data<float>()[c] = static_cast<float>(sum_g);
    const double mean_g = frozen ? 0.0 : gamma[c] * sum_g / count;
    const double mean_gx = frozen ? 0.0 : gamma[c] * sum_gx / count;
    for (int64_t n = 0; n < s.batch; ++n) {
      const int64_t base = (n * s.channels + c) * s.spatial;
      for (int64_t i = 0; i < s.spatial; ++i) {
        const double xhat = (px[base + i] - s.mean[c]) * inv;
        dx.data<float>()[base + i] =
            static_cast<float>((gamma[c] * pg[base + i] - mean_g - xhat * mean_gx) * inv);
      }
    }
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = dx;
  grads[1] = dgamma;
  grads[2] = dbeta;
  return grads;
}

namespace {

#ifdef QUENCH_WITH_ONEDNN
// Whether oneDNN's kernels can take the node: float x of rank 2 to 5, float per-channel γ, β
// and statistics.
bool fast_batch_norm_inputs(const std::vector<const Tensor*>& in) {
  if (in.size() < 5 || in[0] == nullptr || in[0]->dtype() != DType::kFloat32 || in[0]->rank() < 2 ||
      in[0]->rank() > 5) {
    return false;
  }
  for (size_t i = 1; i < 5; ++i) {
    if (in[i] == nullptr || in[i]->dtype() != DType::kFloat32 || in[i]->rank() != 1 ||
        in[i]->dim(0) != in[0]->dim(1)) {
      return false;
    }
  }
  return true;
}
#endif

// (T21) on oneDNN where it takes the node, else the reference.
std::vector<Tensor> batch_norm_training_forward(const Node& node,
                                                const std::vector<const Tensor*>& in,
                                                UpdatedInputs& updated) {
#ifdef QUENCH_WITH_ONEDNN
  if (fast_batch_norm_inputs(in)) {
    const Tensor& x = *in[0];
    if (auto k =
            onednn::BatchNormTraining::get(x.shape(), node.attr_float("epsilon", 1e-5f), false)) {
      const float momentum = node.attr_float("momentum", 0.9f);
      Tensor y = Tensor::empty(DType::kFloat32, x.shape());
      Tensor mean = Tensor::empty(DType::kFloat32, in[3]->shape());
      Tensor var = Tensor::empty(DType::kFloat32, in[4]->shape());
      k->forward(x.data<float>(), in[1]->data<float>(), in[2]->data<float>(), y.data<float>(),
                 mean.data<float>(), var.data<float>());
      // The running statistics: r ← momentum · r + (1 − momentum) · batch statistic.
      for (int64_t c = 0; c < x.dim(1); ++c) {
        mean.data<float>()[c] =
            momentum * in[3]->data<float>()[c] + (1.0f - momentum) * mean.data<float>()[c];
        var.data<float>()[c] =
            momentum * in[4]->data<float>()[c] + (1.0f - momentum) * var.data<float>()[c];
      }
      updated.emplace_back(3, mean);
      updated.emplace_back(4, var);
      std::vector<Tensor> outputs = {y};
      if (node.outputs.size() > 1) outputs.push_back(mean);
      if (node.outputs.size() > 2) outputs.push_back(var);
      return outputs;
    }
  }
#endif
  return batch_norm_training_forward_reference(node, in, updated);
}

// (T22)/(T27) on oneDNN where it takes the node (in training mode the batch statistics are
// computed again by its forward), else the reference.
std::vector<Tensor> batch_norm_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  const Tensor& dy = ctx.output_grads[0];
  if (dy.defined() && fast_batch_norm_inputs(ctx.inputs) && dy.dtype() == DType::kFloat32 &&
      dy.shape() == ctx.inputs[0]->shape()) {
    const Tensor& x = *ctx.inputs[0];
    const bool frozen = !ctx.training;
    if (auto k = onednn::BatchNormTraining::get(x.shape(), ctx.node.attr_float("epsilon", 1e-5f),
                                                frozen)) {
      const int64_t channels = x.dim(1);
      std::vector<float> batch_mean, batch_var;
      const float* mean = ctx.inputs[3]->data<float>();
      const float* var = ctx.inputs[4]->data<float>();
      if (!frozen) {
        batch_mean.resize(static_cast<size_t>(channels));
        batch_var.resize(static_cast<size_t>(channels));
        Tensor scratch = Tensor::empty(DType::kFloat32, x.shape());
        k->forward(x.data<float>(), ctx.inputs[1]->data<float>(), ctx.inputs[2]->data<float>(),
                   scratch.data<float>(), batch_mean.data(), batch_var.data());
        mean = batch_mean.data();
        var = batch_var.data();
      }
      std::vector<Tensor> grads(ctx.inputs.size());
      grads[0] = Tensor::empty(DType::kFloat32, x.shape());
      grads[1] = Tensor::empty(DType::kFloat32, ctx.inputs[1]->shape());
      grads[2] = Tensor::empty(DType::kFloat32, ctx.inputs[2]->shape());
      k->backward(x.data<float>(), mean, var, ctx.inputs[1]->data<float>(),
                  ctx.inputs[2]->data<float>(), dy.data<float>(), grads[0].data<float>(),
                  grads[1].data<float>(), grads[2].data<float>());
      return grads;
    }
  }
#endif
  return batch_norm_backward_reference(ctx);
}

}  // namespace

void register_norm_gradients(GradientTable& t) {
  t.emplace_back("BatchNormalization",
                 GradientDef{batch_norm_backward, {}, {3, 4}, batch_norm_training_forward});
  t.emplace_back("LayerNormalization", GradientDef{layer_norm_backward, {}, {}});
}

}  // namespace quench::train

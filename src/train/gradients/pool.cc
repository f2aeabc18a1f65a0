// MaxPool, AveragePool (1-D and 2-D) and GlobalAveragePool (docs/training.md (T9)): a max pool
// passes each output's gradient to the first maximum of its window (the one ONNX's indices
// name); an average pool spreads it evenly over the taps its divisor counted. oneDNN's pooling
// backward is the fast path (kernels/onednn/pool_training.h); the loops here are the reference
// and the kernels for windows oneDNN cannot express.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "ops/conv_params.h"
#include "quench/error.h"
#include "train/gradients/reference.h"

#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/pool_training.h"
#endif

namespace quench::train {

namespace {

struct Pool2d {
  int64_t planes, h, w, oh, ow, kh, kw, sh, sw, dh, dw, ph, pw, pad_h_end, pad_w_end;
};

Pool2d pool_geometry(const Node& node, const Tensor& x, const Tensor& y) {
  const int rank = x.rank();
  if (rank != 3 && rank != 4) {
    throw Error(ErrorKind::kUnsupported, node.describe() +
                                             ": training supports 1-D and 2-D pooling; input is " +
                                             shape_str(x.shape()));
  }
  std::vector<int64_t> spatial(x.shape().begin() + 2, x.shape().end());
  const WindowParams p = parse_window(node, spatial, node.require_ints("kernel_shape"));
  const bool one_d = rank == 3;
  Pool2d g{};
  g.planes = x.dim(0) * x.dim(1);
  g.h = one_d ? 1 : x.dim(2);
  g.w = x.dim(-1);
  g.oh = one_d ? 1 : y.dim(2);
  g.ow = y.dim(-1);
  g.kh = one_d ? 1 : p.kernel[0];
  g.kw = p.kernel.back();
  g.sh = one_d ? 1 : p.strides[0];
  g.sw = p.strides.back();
  g.dh = one_d ? 1 : p.dilations[0];
  g.dw = p.dilations.back();
  g.ph = one_d ? 0 : p.pads_begin[0];
  g.pw = p.pads_begin.back();
  g.pad_h_end = one_d ? 0 : p.pads_end[0];
  g.pad_w_end = p.pads_end.back();
  return g;
}

// The first maximum of output (oy, ox)'s window in plane `xp` (NaN wins, as in the reference
// kernel), as an in-plane offset; -1 for a window entirely in the padding.
int64_t window_argmax(const Pool2d& g, const float* xp, int64_t oy, int64_t ox) {
  int64_t best = -1;
  float best_value = 0;
  const int64_t y0 = oy * g.sh - g.ph, x0 = ox * g.sw - g.pw;
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t yy = y0 + i * g.dh;
    if (yy < 0 || yy >= g.h) continue;
    const float* row = xp + yy * g.w;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t xx = x0 + j * g.dw;
      if (xx < 0 || xx >= g.w) continue;
      const float v = row[xx];
      if (best < 0 || v > best_value || (std::isnan(v) && !std::isnan(best_value))) {
        best = yy * g.w + xx;
        best_value = v;
      }
    }
  }
  return best;
}

// MaxPool's forward in training (float, no Indices output): the reference kernel's values.
std::vector<Tensor> max_pool_forward(const Node& node, const std::vector<const Tensor*>& in) {
  const Tensor* x = in.empty() ? nullptr : in[0];
  if (x == nullptr || x->dtype() != DType::kFloat32 || (x->rank() != 3 && x->rank() != 4) ||
      node.outputs.size() > 1 || node.attr_int("storage_order", 0) != 0) {
    return {};  // the tape runs the reference kernel
  }
  std::vector<int64_t> spatial(x->shape().begin() + 2, x->shape().end());
  const WindowParams p = parse_window(node, spatial, node.require_ints("kernel_shape"));
  Shape out = {x->dim(0), x->dim(1)};
  for (int i = 0; i < p.spatial_rank(); ++i) out.push_back(p.output_size(i, spatial[i]));
  Tensor y = Tensor::empty(DType::kFloat32, out);
  const Pool2d g = pool_geometry(node, *x, y);
  const float* px = x->data<float>();
  float* py = y.data<float>();
  for (int64_t plane = 0; plane < g.planes; ++plane) {
    const float* xp = px + plane * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t best = window_argmax(g, xp, oy, ox);
        py[(plane * g.oh + oy) * g.ow + ox] =
            best < 0 ? std::numeric_limits<float>::lowest() : xp[best];
      }
    }
  }
  return {y};
}

std::vector<Tensor> max_pool_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = *ctx.outputs[0];
  const Pool2d g = pool_geometry(ctx.node, x, y);
  Tensor dx = Tensor::zeros(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* pdy = ctx.output_grads[0].data<float>();
  float* pdx = dx.data<float>();
  for (int64_t p = 0; p < g.planes; ++p) {
    const float* xp = px + p * g.h * g.w;
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t best = window_argmax(g, xp, oy, ox);
        if (best >= 0) pdx[p * g.h * g.w + best] += pdy[(p * g.oh + oy) * g.ow + ox];
      }
    }
  }
  return {dx};
}

std::vector<Tensor> average_pool_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = *ctx.outputs[0];
  const Pool2d g = pool_geometry(ctx.node, x, y);
  const bool include_pad = ctx.node.attr_int("count_include_pad", 0) != 0;
  Tensor dx = Tensor::zeros(DType::kFloat32, x.shape());
  const float* pdy = ctx.output_grads[0].data<float>();
  float* pdx = dx.data<float>();
  for (int64_t p = 0; p < g.planes; ++p) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        // The divisor: taps inside the input, or with count_include_pad inside the padded input.
        int64_t count = 0;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t yy = oy * g.sh - g.ph + i * g.dh;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            const bool inside = yy >= 0 && yy < g.h && xx >= 0 && xx < g.w;
            const bool in_pad =
                yy >= -g.ph && yy < g.h + g.pad_h_end && xx >= -g.pw && xx < g.w + g.pad_w_end;
            if (inside || (include_pad && in_pad)) ++count;
          }
        }
        if (count == 0) continue;
        const float share = pdy[(p * g.oh + oy) * g.ow + ox] / static_cast<float>(count);
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t yy = oy * g.sh - g.ph + i * g.dh;
          if (yy < 0 || yy >= g.h) continue;
          for (int64_t j = 0; j < g.kw; ++j) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            if (xx >= 0 && xx < g.w) pdx[(p * g.h + yy) * g.w + xx] += share;
          }
        }
      }
    }
  }
  return {dx};
}

std::vector<Tensor> global_average_pool_backward(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 3) {
    throw Error(ErrorKind::kInvalidModel,
                ctx.node.describe() + ": input " + shape_str(x.shape()) + " has no spatial dims");
  }
  const int64_t planes = x.dim(0) * x.dim(1);
  const int64_t size = x.numel() / std::max<int64_t>(planes, 1);
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* pdy = ctx.output_grads[0].data<float>();
  float* pdx = dx.data<float>();
  for (int64_t p = 0; p < planes; ++p) {
    const float v = pdy[p] / static_cast<float>(size);
    for (int64_t i = 0; i < size; ++i) pdx[p * size + i] = v;
  }
  return {dx};
}

std::vector<Tensor> pool_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  const Tensor* x = ctx.inputs.empty() ? nullptr : ctx.inputs[0];
  const Tensor* y = ctx.outputs.empty() ? nullptr : ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  if (x != nullptr && y != nullptr && dy.defined() && x->dtype() == DType::kFloat32 &&
      dy.dtype() == DType::kFloat32 && dy.shape() == y->shape()) {
    if (auto k = onednn::PoolTraining::get(ctx.node, x->shape(), y->shape())) {
      Tensor dx = Tensor::empty(DType::kFloat32, x->shape());
      k->backward(x->data<float>(), dy.data<float>(), dx.data<float>());
      return {dx};
    }
  }
#endif
  return pool_backward_reference(ctx);
}

}  // namespace

std::vector<Tensor> pool_backward_reference(const GradContext& ctx) {
  const std::string& op = ctx.node.op_type;
  if (op == "MaxPool") return max_pool_backward(ctx);
  if (op == "AveragePool") return average_pool_backward(ctx);
  if (op == "GlobalAveragePool") return global_average_pool_backward(ctx);
  throw Error(ErrorKind::kInternal, ctx.node.describe() + ": not a pooling");
}

void register_pool_gradients(GradientTable& t) {
  t.emplace_back("MaxPool", GradientDef{pool_backward, max_pool_forward, {}});
  t.emplace_back("AveragePool", GradientDef{pool_backward, {}, {}});
  t.emplace_back("GlobalAveragePool", GradientDef{pool_backward, {}, {}});
}

}  // namespace quench::train

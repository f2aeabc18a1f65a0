// The reference Conv for training (1-D and 2-D, grouped/depthwise, strides, pads, dilations):
// forward and backward by im2col + GEMM, one sample and group at a time. With X [N, C, H, W], W [M,
// C/g, kh, kw] and col the [C/g*kh*kw, OH*OW] matrix of input taps of one sample and group,
// docs/training.md (T1)-(T3):
//   Y_g = W_g col + b,  dW_g = sum_n dY_g col^T,  dcol = W_g^T dY_g (scattered back into dX),
//   db = sum over n and positions of dY.
#include <string>
#include <vector>

#include "ops/conv_params.h"
#include "quench/error.h"
#include "train/gemm.h"
#include "train/gradients/conv_im2col.h"

namespace quench::train {

namespace {

struct Conv2d {
  int64_t n, c, h, w, m, group, kh, kw, oh, ow, sh, sw, dh, dw, ph, pw;
  int64_t cg() const { return c / group; }
  int64_t mg() const { return m / group; }
  int64_t k() const { return cg() * kh * kw; }
  int64_t p() const { return oh * ow; }
};

Conv2d geometry(const Node& node, const Tensor& x, const Tensor& wt) {
  const int rank = x.rank();
  if ((rank != 3 && rank != 4) || wt.rank() != rank) {
    throw Error(ErrorKind::kUnsupported,
                node.describe() + ": training supports 1-D and 2-D convolutions; input is " +
                    shape_str(x.shape()) + ", weight " + shape_str(wt.shape()));
  }
  std::vector<int64_t> spatial(x.shape().begin() + 2, x.shape().end());
  std::vector<int64_t> kernel(wt.shape().begin() + 2, wt.shape().end());
  const WindowParams p = parse_window(node, spatial, kernel);
  Conv2d g{};
  g.n = x.dim(0);
  g.c = x.dim(1);
  g.m = wt.dim(0);
  g.group = p.group;
  if (g.c % g.group != 0 || g.m % g.group != 0 || wt.dim(1) != g.c / g.group) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": input " + shape_str(x.shape()) +
                                              " and weight " + shape_str(wt.shape()) +
                                              " do not match group " + std::to_string(g.group));
  }
  const bool one_d = rank == 3;
  g.h = one_d ? 1 : x.dim(2);
  g.w = x.dim(rank - 1);
  g.kh = one_d ? 1 : kernel[0];
  g.kw = kernel.back();
  g.sh = one_d ? 1 : p.strides[0];
  g.sw = p.strides.back();
  g.dh = one_d ? 1 : p.dilations[0];
  g.dw = p.dilations.back();
  g.ph = one_d ? 0 : p.pads_begin[0];
  g.pw = p.pads_begin.back();
  g.oh = one_d ? 1 : p.output_size(0, g.h);
  g.ow = p.output_size(p.spatial_rank() - 1, g.w);
  if (g.oh <= 0 || g.ow <= 0) {
    throw Error(ErrorKind::kInvalidModel,
                node.describe() + ": empty output for input " + shape_str(x.shape()));
  }
  return g;
}

Shape output_shape(const Conv2d& g, int rank) {
  if (rank == 3) return {g.n, g.m, g.ow};
  return {g.n, g.m, g.oh, g.ow};
}

// col [cg*kh*kw, oh*ow] of sample x (pointing at its group's first channel).
void im2col(const Conv2d& g, const float* x, float* col) {
  for (int64_t c = 0; c < g.cg(); ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        float* row = col + ((c * g.kh + i) * g.kw + j) * g.p();
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t y = oy * g.sh - g.ph + i * g.dh;
          float* out = row + oy * g.ow;
          if (y < 0 || y >= g.h) {
            for (int64_t ox = 0; ox < g.ow; ++ox) out[ox] = 0.0f;
            continue;
          }
          const float* in = x + (c * g.h + y) * g.w;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            out[ox] = xx >= 0 && xx < g.w ? in[xx] : 0.0f;
          }
        }
      }
    }
  }
}

// The adjoint of im2col: dx += scatter(dcol).
void col2im(const Conv2d& g, const float* col, float* dx) {
  for (int64_t c = 0; c < g.cg(); ++c) {
    for (int64_t i = 0; i < g.kh; ++i) {
      for (int64_t j = 0; j < g.kw; ++j) {
        const float* row = col + ((c * g.kh + i) * g.kw + j) * g.p();
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const int64_t y = oy * g.sh - g.ph + i * g.dh;
          if (y < 0 || y >= g.h) continue;
          float* out = dx + (c * g.h + y) * g.w;
          const float* in = row + oy * g.ow;
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t xx = ox * g.sw - g.pw + j * g.dw;
            if (xx >= 0 && xx < g.w) out[xx] += in[ox];
          }
        }
      }
    }
  }
}

}  // namespace

std::vector<Tensor> conv_forward_im2col(const Node& node, const std::vector<const Tensor*>& in) {
  if (in.size() < 2 || in[0] == nullptr || in[1] == nullptr) {
    throw Error(ErrorKind::kInvalidModel, node.describe() + ": needs input and weight");
  }
  const Tensor& x = *in[0];
  const Tensor& wt = *in[1];
  const Tensor* bias = in.size() > 2 ? in[2] : nullptr;
  const Conv2d g = geometry(node, x, wt);
  Tensor y = Tensor::empty(DType::kFloat32, output_shape(g, x.rank()));
  std::vector<float> col(static_cast<size_t>(g.k() * g.p()));
  const float* px = x.data<float>();
  const float* pw = wt.data<float>();
  float* py = y.data<float>();
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t gr = 0; gr < g.group; ++gr) {
      im2col(g, px + (n * g.c + gr * g.cg()) * g.h * g.w, col.data());
      float* out = py + (n * g.m + gr * g.mg()) * g.p();
      sgemm(false, false, g.mg(), g.p(), g.k(), 1.0f, pw + gr * g.mg() * g.k(), g.k(), col.data(),
            g.p(), 0.0f, out, g.p());
    }
    if (bias != nullptr) {
      const float* b = bias->data<float>();
      for (int64_t m = 0; m < g.m; ++m) {
        float* out = py + (n * g.m + m) * g.p();
        for (int64_t i = 0; i < g.p(); ++i) out[i] += b[m];
      }
    }
  }
  return {y};
}

std::vector<Tensor> conv_backward_im2col(const GradContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& wt = ctx.input(1);
  const Tensor& dy = ctx.output_grads[0];
  const Conv2d g = geometry(ctx.node, x, wt);
  std::vector<Tensor> grads(ctx.inputs.size());
  const float* px = x.data<float>();
  const float* pw = wt.data<float>();
  const float* pdy = dy.data<float>();
  std::vector<float> col(static_cast<size_t>(g.k() * g.p()));
  float* pdx = nullptr;
  float* pdw = nullptr;
  if (ctx.needs(0)) {
    grads[0] = Tensor::zeros(DType::kFloat32, x.shape());
    pdx = grads[0].data<float>();
  }
  if (ctx.needs(1)) {
    grads[1] = Tensor::zeros(DType::kFloat32, wt.shape());
    pdw = grads[1].data<float>();
  }
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t gr = 0; gr < g.group; ++gr) {
      const float* dyg = pdy + (n * g.m + gr * g.mg()) * g.p();
      const int64_t x_offset = (n * g.c + gr * g.cg()) * g.h * g.w;
      if (pdw != nullptr) {
        im2col(g, px + x_offset, col.data());
        sgemm(false, true, g.mg(), g.k(), g.p(), 1.0f, dyg, g.p(), col.data(), g.p(), 1.0f,
              pdw + gr * g.mg() * g.k(), g.k());
      }
      if (pdx != nullptr) {
        sgemm(true, false, g.k(), g.p(), g.mg(), 1.0f, pw + gr * g.mg() * g.k(), g.k(), dyg, g.p(),
              0.0f, col.data(), g.p());
        col2im(g, col.data(), pdx + x_offset);
      }
    }
  }
  if (ctx.needs(2)) {
    grads[2] = Tensor::zeros(DType::kFloat32, ctx.input(2).shape());
    float* db = grads[2].data<float>();
    for (int64_t n = 0; n < g.n; ++n) {
      for (int64_t m = 0; m < g.m; ++m) {
        const float* d = pdy + (n * g.m + m) * g.p();
        double sum = 0;
        for (int64_t i = 0; i < g.p(); ++i) sum += d[i];
        db[m] += static_cast<float>(sum);
      }
    }
  }
  return grads;
}

}  // namespace quench::train

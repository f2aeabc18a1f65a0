// Element-wise activations and Erf: dX = dY * f'(X), with f' written from X or from Y = f(X)
// (docs/training.md (T7)). oneDNN's eltwise backward is the fast path for Relu, Clip, HardSwish,
// Sigmoid and Tanh (kernels/onednn/eltwise_training.h); the loops here are the reference, and the
// kernels of HardSigmoid and Erf, which oneDNN 2.6 has no backward for.
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "quench/error.h"
#include "train/gradients/reference.h"

#ifdef QUENCH_WITH_ONEDNN
#include "kernels/onednn/eltwise_training.h"
#endif

namespace quench::train {

namespace {

// dX = dY ⊙ make(x, y), `make(x, y)` = f'(x) for each element (a functor, inlined).
template <class Derivative>
std::vector<Tensor> unary(const GradContext& ctx, Derivative make) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = *ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  std::vector<Tensor> grads(ctx.inputs.size());
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  const float* px = x.data<float>();
  const float* py = y.data<float>();
  const float* pdy = dy.data<float>();
  float* pdx = dx.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) pdx[i] = pdy[i] * make(px[i], py[i]);
  grads[0] = dx;
  return grads;
}

// Clip's bounds: inputs 1 and 2 (opset >= 11) or the min/max attributes.
std::pair<float, float> clip_bounds(const GradContext& ctx) {
  float lo = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
  float hi = ctx.node.attr_float("max", std::numeric_limits<float>::max());
  if (ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr) lo = ctx.inputs[1]->data<float>()[0];
  if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) hi = ctx.inputs[2]->data<float>()[0];
  return {lo, hi};
}

#ifdef QUENCH_WITH_ONEDNN
// The oneDNN kernel for the node's op, or an empty result where it has none.
std::vector<Tensor> activation_backward_fast(const GradContext& ctx) {
  using onednn::EltwiseGrad;
  const std::string& op = ctx.node.op_type;
  EltwiseGrad kind;
  if (op == "Relu") {
    kind = EltwiseGrad::kRelu;
  } else if (op == "Clip") {
    kind = EltwiseGrad::kClip;
  } else if (op == "HardSwish") {
    kind = EltwiseGrad::kHardSwish;
  } else if (op == "Sigmoid") {
    kind = EltwiseGrad::kSigmoid;
  } else if (op == "Tanh") {
    kind = EltwiseGrad::kTanh;
  } else {
    return {};
  }
  const Tensor& x = ctx.input(0);
  const Tensor* y = ctx.outputs.empty() ? nullptr : ctx.outputs[0];
  const Tensor& dy = ctx.output_grads[0];
  if (x.dtype() != DType::kFloat32 || y == nullptr || !dy.defined() ||
      dy.dtype() != DType::kFloat32 || dy.numel() != x.numel() || y->numel() != x.numel()) {
    return {};  // the reference checks and reports
  }
  const bool from_output = kind == EltwiseGrad::kSigmoid || kind == EltwiseGrad::kTanh;
  const auto [lo, hi] = kind == EltwiseGrad::kClip ? clip_bounds(ctx) : std::pair{0.f, 0.f};
  Tensor dx = Tensor::empty(DType::kFloat32, x.shape());
  if (!onednn::eltwise_backward(kind, from_output ? y->data<float>() : x.data<float>(),
                                dy.data<float>(), dx.data<float>(), x.numel(), lo, hi)) {
    return {};
  }
  std::vector<Tensor> grads(ctx.inputs.size());
  grads[0] = std::move(dx);
  return grads;
}
#endif

std::vector<Tensor> activation_backward(const GradContext& ctx) {
#ifdef QUENCH_WITH_ONEDNN
  if (std::vector<Tensor> fast = activation_backward_fast(ctx); !fast.empty()) return fast;
#endif
  return activation_backward_reference(ctx);
}

}  // namespace

std::vector<Tensor> activation_backward_reference(const GradContext& ctx) {
  const std::string& op = ctx.node.op_type;
  if (op == "Relu") return unary(ctx, [](float x, float) { return x > 0 ? 1.0f : 0.0f; });
  if (op == "Sigmoid") return unary(ctx, [](float, float y) { return y * (1.0f - y); });
  if (op == "Tanh") return unary(ctx, [](float, float y) { return 1.0f - y * y; });
  if (op == "Clip") {
    // Open at both bounds, as PyTorch's hardtanh (ReLU6) and oneDNN's clip_v2.
    // Plain variables: clang 14 cannot capture a structured binding in a lambda.
    const std::pair<float, float> bounds = clip_bounds(ctx);
    const float lo = bounds.first, hi = bounds.second;
    return unary(ctx, [lo, hi](float x, float) { return x > lo && x < hi ? 1.0f : 0.0f; });
  }
  if (op == "Erf") {
    // erf'(x) = 2/√π · exp(−x²) (GELU is exported as x · (1 + erf(x/√2)) / 2).
    return unary(ctx, [](float x, float) { return 1.1283791670955126f * std::exp(-x * x); });
  }
  if (op == "HardSigmoid") {
    const float a = ctx.node.attr_float("alpha", 0.2f);
    const float b = ctx.node.attr_float("beta", 0.5f);
    return unary(ctx, [a, b](float x, float) {
      const float v = a * x + b;
      return v > 0 && v < 1 ? a : 0.0f;
    });
  }
  if (op == "HardSwish") {
    // HardSwish(x) = x * clamp(x / 6 + 1/2, 0, 1).
    return unary(ctx, [](float x, float) {
      if (x <= -3.0f) return 0.0f;
      if (x >= 3.0f) return 1.0f;
      return x / 3.0f + 0.5f;
    });
  }
  throw Error(ErrorKind::kInternal, ctx.node.describe() + ": not an activation");
}

void register_activation_gradients(GradientTable& t) {
  for (const char* op : {"Relu", "Sigmoid", "Tanh", "Erf", "HardSigmoid", "HardSwish"}) {
    t.emplace_back(op, GradientDef{activation_backward, {}, {}});
  }
  t.emplace_back("Clip", GradientDef{activation_backward, {}, {1, 2}});
}

}  // namespace quench::train

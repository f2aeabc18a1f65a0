// Element-wise activations and Erf: dX = dY * f'(X), with f' written from X or from Y = f(X)
// (docs/training.md (T7)).
#include <cmath>
#include <limits>
#include <vector>

#include "quench/error.h"
#include "train/gradient.h"

namespace quench::train {

namespace {

// `make(x, y)` = f'(x) for each element, called inline (a functor, not a std::function).
template <class Derivative>
BackwardFn unary(Derivative make) {
  return [make = std::move(make)](const GradContext& ctx) {
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
  };
}

std::vector<Tensor> clip_backward(const GradContext& ctx) {
  // Bounds from inputs 1 and 2 (opset >= 11) or the min/max attributes.
  float lo = ctx.node.attr_float("min", std::numeric_limits<float>::lowest());
  float hi = ctx.node.attr_float("max", std::numeric_limits<float>::max());
  if (ctx.inputs.size() > 1 && ctx.inputs[1] != nullptr) lo = ctx.inputs[1]->data<float>()[0];
  if (ctx.inputs.size() > 2 && ctx.inputs[2] != nullptr) hi = ctx.inputs[2]->data<float>()[0];
  return unary([lo, hi](float x, float) { return x >= lo && x <= hi ? 1.0f : 0.0f; })(ctx);
}

}  // namespace

void register_activation_gradients(GradientTable& t) {
  t.emplace_back("Relu",
                 GradientDef{unary([](float x, float) { return x > 0 ? 1.0f : 0.0f; }), {}, {}});
  t.emplace_back("Sigmoid",
                 GradientDef{unary([](float, float y) { return y * (1.0f - y); }), {}, {}});
  t.emplace_back("Tanh", GradientDef{unary([](float, float y) { return 1.0f - y * y; }), {}, {}});
  t.emplace_back("Clip", GradientDef{clip_backward, {}, {1, 2}});
  // erf'(x) = 2/√π · exp(−x²) (GELU is exported as x · (1 + erf(x/√2)) / 2).
  t.emplace_back(
      "Erf",
      GradientDef{
          unary([](float x, float) { return 1.1283791670955126f * std::exp(-x * x); }), {}, {}});
  t.emplace_back("HardSigmoid", GradientDef{[](const GradContext& ctx) {
                                              const float a = ctx.node.attr_float("alpha", 0.2f);
                                              const float b = ctx.node.attr_float("beta", 0.5f);
                                              return unary([a, b](float x, float) {
                                                const float v = a * x + b;
                                                return v > 0 && v < 1 ? a : 0.0f;
                                              })(ctx);
                                            },
                                            {},
                                            {}});
  // HardSwish(x) = x * clamp(x / 6 + 1/2, 0, 1).
  t.emplace_back("HardSwish", GradientDef{unary([](float x, float) {
                                            if (x <= -3.0f) return 0.0f;
                                            if (x >= 3.0f) return 1.0f;
                                            return x / 3.0f + 0.5f;
                                          }),
                                          {},
                                          {}});
}

}  // namespace quench::train

// FakeQuantize (train/qat/fake_quantize.h): the forward pass bit-exact against the quantizer's own
// rounding, and the STE / LSQ / LSQ+ gradients against docs/quantization.md (98)-(101) and, where
// the quantize-dequantize function is differentiable, against finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/requantize.h"
#include "ops/domains.h"
#include "quant/qparams.h"
#include "quench/error.h"
#include "test_util.h"
#include "train/qat/fake_quantize.h"
#include "train/tape.h"
#include "train_gradcheck.h"

namespace quench::train::qat {
namespace {

using testing::random_tensor;

// Finite differences of the scale away from rounding boundaries: a step that moves x/s by far
// less than the distance to the nearest boundary, so that round() stays constant.
// |x/s| <= 20 here and points are >= 0.1 from a boundary: a 4e-3 relative step moves x/s by at
// most 0.08. Float32 evaluation of (q − z)·s then errs by about 1e-6 / 2e-3.
constexpr double kScaleStepRel = 4e-3;
constexpr double kFdTol = 2e-3;

Tensor scalar_tensor(float v) { return Tensor::from_vector<float>({1}, {v}); }

TEST(FakeQuantize, ForwardMatchesQuantizeLinearBitExactU8) {
  std::mt19937 rng(1);
  const QuantParams p = quant::activation_params(-0.7f, 2.3f, DType::kUInt8);
  Tensor x = random_tensor({4, 3, 5, 5}, rng, -1.5f, 3.5f);  // some values clip on both sides
  // Exact halves between two steps: half to even must be used.
  for (int k = 0; k < 8; ++k) {
    x.data<float>()[k] = (static_cast<float>(k) - 3.5f) * p.scale();
  }
  const Tensor zp = scalar_tensor(static_cast<float>(p.zero_point()));
  const Tensor y = fake_quantize(x, scalar_tensor(p.scale()), &zp, fake_quant_range(8, false));
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint8_t q = quantize<uint8_t>(x.data<float>()[i], p.scale(), p.zero_point());
    ASSERT_EQ(y.data<float>()[i], dequantize(q, p.scale(), p.zero_point())) << "element " << i;
  }
}

TEST(FakeQuantize, ForwardMatchesLowBitPerChannelWeights) {
  std::mt19937 rng(2);
  const Tensor w = random_tensor({6, 3, 3, 3}, rng);
  for (int bits : {2, 4, 8}) {
    const quant::WeightQuant q = quant::quantize_weights(w, 0, true, bits);
    FakeQuantSpec spec = fake_quant_range(bits, true);
    spec.axis = 0;
    const Tensor scales = Tensor::from_vector<float>({6}, q.scales);
    const Tensor y = fake_quantize(w, scales, nullptr, spec);
    const int64_t per = w.numel() / 6;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const float expected = dequantize(q.quantized.data<int8_t>()[i], q.scales[i / per], 0);
      ASSERT_EQ(y.data<float>()[i], expected) << bits << " bits, element " << i;
    }
  }
}

TEST(FakeQuantize, RangeOfEachWidth) {
  EXPECT_EQ(fake_quant_range(4, true).qmin, -7);
  EXPECT_EQ(fake_quant_range(4, true).qmax, 7);
  EXPECT_EQ(fake_quant_range(4, false).qmax, 15);
  EXPECT_EQ(fake_quant_range(2, true).qmax, 1);
  EXPECT_THROW(fake_quant_range(1, true), Error);
  EXPECT_THROW(fake_quant_range(9, false), Error);
}

// One element at a time, g forced to 1: the gradients of eqs. (98), (99), (101).
struct OneElement {
  float dx, ds, dz;
};
OneElement grads_of(float x, float s, float z, const FakeQuantSpec& base) {
  FakeQuantSpec spec = base;
  spec.grad_scale = 1.f;
  const Tensor zt = scalar_tensor(z);
  const auto g =
      fake_quantize_backward(scalar_tensor(x), scalar_tensor(s), &zt, scalar_tensor(1.f), spec);
  return {g.dx.data<float>()[0], g.dscale.data<float>()[0], g.dzero_point.data<float>()[0]};
}

double y_of(double x, double s, float z, const FakeQuantSpec& spec) {
  const Tensor zt = scalar_tensor(z);
  return fake_quantize(scalar_tensor(static_cast<float>(x)), scalar_tensor(static_cast<float>(s)),
                       &zt, spec)
      .data<float>()[0];
}

TEST(FakeQuantize, GradientsFollowTheEquationsAndFiniteDifferences) {
  const FakeQuantSpec spec = fake_quant_range(4, false);  // [0, 15]
  const float s = 0.25f, z = 3.f;
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-3.f, 5.f);
  int inside = 0, clipped = 0;
  for (int n = 0; n < 400; ++n) {
    const float x = dist(rng);
    const float v = x / s;
    if (std::fabs(v - std::floor(v) - 0.5f) < 0.1f) continue;  // near a rounding boundary
    const OneElement g = grads_of(x, s, z, spec);
    const double r = std::nearbyint(v) + z;
    const bool in = r >= spec.qmin && r <= spec.qmax;
    // (98) straight-through with clipping.
    EXPECT_EQ(g.dx, in ? 1.f : 0.f) << "x " << x;
    // (99) and (101).
    const double q_clip = r < spec.qmin ? spec.qmin : spec.qmax;
    const double ds_expected = in ? std::nearbyint(v) - v : q_clip - z;
    EXPECT_NEAR(g.ds, ds_expected, 1e-5) << "x " << x;
    EXPECT_EQ(g.dz, in ? 0.f : -s) << "x " << x;
    // dY/ds by central differences of the quantize-dequantize function itself. Inside the range
    // the function is round(x/s)·s, whose derivative is round(x/s): LSQ adds −x/s, the STE term
    // of d round(v)/dv := 1 (99); in the clipped region the two agree exactly.
    const float sp = s * static_cast<float>(1 + kScaleStepRel);
    const float sm = s * static_cast<float>(1 - kScaleStepRel);
    const double fd = (y_of(x, sp, z, spec) - y_of(x, sm, z, spec)) / (double{sp} - sm);
    const double ste_term = in ? -v : 0.0;
    EXPECT_NEAR(g.ds - ste_term, fd, kFdTol) << "x " << x;
    (in ? inside : clipped)++;
  }
  EXPECT_GT(inside, 50);
  EXPECT_GT(clipped, 50);
}

// The fast form (vectorized loops over runs of one scale) against the element-wise reference:
// the forward and dx bit for bit, the scale and offset gradients within kSumTol of the reference's
// double sums relative to the sum of the terms' magnitudes (float lanes change the order and the
// precision of the additions only). Shapes cover one scale over a long tensor (several pieces and
// lanes' tails), per-channel weights on axis 0 and on an inner axis (short runs), 2 to 8 bits,
// symmetric and asymmetric ranges, values that clip on both sides and exact ties.
TEST(FakeQuantize, FastFormMatchesTheReference) {
  constexpr double kSumTol = 1e-5;
  std::mt19937 rng(9);
  struct Case {
    Shape shape;
    int64_t axis;  // -1: one scale
    int bits;
    bool symmetric;
  };
  const Case cases[] = {{{3, 7, 33, 41}, -1, 8, false}, {{2, 5, 9, 9}, -1, 4, false},
                        {{16, 3, 3, 3}, 0, 4, true},    {{6, 8, 5, 5}, 1, 2, true},
                        {{37, 29}, 0, 8, true},         {{4, 6, 3}, 1, 3, false}};
  for (const Case& c : cases) {
    const Tensor x = random_tensor(c.shape, rng, -3.f, 3.f);
    const Tensor dy = random_tensor(c.shape, rng);
    FakeQuantSpec spec = fake_quant_range(c.bits, c.symmetric);
    spec.axis = c.axis;
    const int64_t channels = c.axis < 0 ? 1 : c.shape[static_cast<size_t>(c.axis)];
    std::vector<float> sv, zv;
    for (int64_t k = 0; k < channels; ++k) {
      sv.push_back(std::uniform_real_distribution<float>(0.02f, 0.6f)(rng));
      zv.push_back(c.symmetric ? 0.f : std::uniform_real_distribution<float>(0.f, 20.f)(rng));
    }
    Tensor xt = x.clone();
    // Exact ties between two steps of the first scale, for half to even.
    for (int k = 0; k < 8; ++k) xt.data<float>()[k] = (static_cast<float>(k) - 3.5f) * sv[0];
    const Tensor s = Tensor::from_vector<float>({channels}, sv);
    const Tensor z = Tensor::from_vector<float>({channels}, zv);
    const Tensor* zp = c.symmetric ? nullptr : &z;
    const std::string label = shape_str(c.shape) + " axis " + std::to_string(c.axis);
    EXPECT_TRUE(quench::testing::same(fake_quantize(xt, s, zp, spec),
                                      fake_quantize_reference(xt, s, zp, spec)))
        << label;
    const FakeQuantGrads fast = fake_quantize_backward(xt, s, zp, dy, spec);
    const FakeQuantGrads ref = fake_quantize_backward_reference(xt, s, zp, dy, spec);
    EXPECT_TRUE(quench::testing::same(fast.dx, ref.dx)) << label;
    // The magnitude the sums are made of: sum |dy| · max(qmax, s) per channel, bounded overall.
    double scale_of_terms = 0;
    for (float g : dy.values<float>()) scale_of_terms += std::fabs(g) * (spec.qmax + 1.0);
    for (int64_t k = 0; k < channels; ++k) {
      EXPECT_NEAR(fast.dscale.data<float>()[k], ref.dscale.data<float>()[k],
                  kSumTol * scale_of_terms * lsq_grad_scale(xt, channels, spec.qmax, false))
          << label << " channel " << k;
      if (zp != nullptr) {
        EXPECT_NEAR(fast.dzero_point.data<float>()[k], ref.dzero_point.data<float>()[k],
                    kSumTol * scale_of_terms * lsq_grad_scale(xt, channels, spec.qmax, false))
            << label << " channel " << k;
      }
    }
  }
}

TEST(FakeQuantize, GradScaleIsOneOverSqrtNQp) {
  std::mt19937 rng(4);
  const Tensor x = random_tensor({8, 4, 3, 3}, rng, 0.f, 2.f);  // per-sample: 36 elements
  const Tensor dy = random_tensor(x.shape(), rng);
  FakeQuantSpec spec = fake_quant_range(8, false);
  spec.per_sample = true;
  const Tensor s = scalar_tensor(0.01f);
  const auto auto_g = fake_quantize_backward(x, s, nullptr, dy, spec);
  spec.grad_scale = 1.f;
  const auto raw = fake_quantize_backward(x, s, nullptr, dy, spec);
  const double g = 1.0 / std::sqrt(36.0 * 255.0);
  EXPECT_NEAR(auto_g.dscale.data<float>()[0], raw.dscale.data<float>()[0] * g,
              1e-6 * std::fabs(raw.dscale.data<float>()[0]) + 1e-9);
  EXPECT_NE(raw.dscale.data<float>()[0], 0.f);
}

TEST(FakeQuantize, PerChannelScaleGradientsSumTheirOwnChannel) {
  std::mt19937 rng(5);
  const Tensor w = random_tensor({3, 2, 2}, rng);
  const Tensor dy = random_tensor(w.shape(), rng);
  FakeQuantSpec spec = fake_quant_range(4, true);
  spec.axis = 0;
  spec.grad_scale = 1.f;
  const Tensor s = Tensor::from_vector<float>({3}, {0.05f, 0.1f, 0.2f});
  const auto g = fake_quantize_backward(w, s, nullptr, dy, spec);
  for (int64_t c = 0; c < 3; ++c) {
    double expected = 0;
    for (int64_t i = c * 4; i < c * 4 + 4; ++i) {
      const double v = w.data<float>()[i] / s.data<float>()[c];
      const double r = std::nearbyint(v);
      const double d = r < spec.qmin ? spec.qmin : r > spec.qmax ? spec.qmax : r - v;
      expected += dy.data<float>()[i] * d;
    }
    EXPECT_NEAR(g.dscale.data<float>()[c], expected, 1e-4) << "channel " << c;
  }
}

TEST(FakeQuantize, TapeTrainsTheScaleThroughAConsumer) {
  // y = FakeQuantize(x) · w: the tape finds the internal op and passes the scale gradient.
  Graph g;
  g.opsets[""] = 17;
  std::mt19937 rng(6);
  g.initializers["x"] = random_tensor({2, 5}, rng, -1.f, 1.f);
  g.initializers["s"] = scalar_tensor(0.1f);
  g.initializers["w"] = random_tensor({5, 3}, rng);
  FakeQuantSpec spec = fake_quant_range(8, true);
  spec.grad_scale = 1.f;
  g.nodes.push_back(make_fake_quantize_node("fq", "x", "s", "", "xq", spec));
  Node mm;
  mm.name = "mm";
  mm.op_type = "MatMul";
  mm.inputs = {"xq", "w"};
  mm.outputs = {"y"};
  g.nodes.push_back(mm);
  g.outputs = {"y"};
  Tape tape(g, {"s", "w"});
  tape.forward({});
  const Tensor dy = random_tensor({2, 3}, rng);
  const auto grads = tape.backward("y", dy);
  // Expected: dxq = dy · wᵀ, then eq. (99) summed.
  const Tensor& x = g.initializers["x"];
  const Tensor& w = g.initializers["w"];
  double expected = 0;
  for (int64_t i = 0; i < 2; ++i) {
    for (int64_t k = 0; k < 5; ++k) {
      double dxq = 0;
      for (int64_t j = 0; j < 3; ++j)
        dxq += dy.data<float>()[i * 3 + j] * w.data<float>()[k * 3 + j];
      const double v = x.data<float>()[i * 5 + k] / 0.1;
      expected += dxq * (std::nearbyint(v) - v);
    }
  }
  EXPECT_NEAR(grads.at("s").data<float>()[0], expected, 1e-4);
  EXPECT_EQ(tape.graph().nodes[0].domain, kInternalDomain);
}

TEST(FakeQuantize, ABiasQuantizerPassesNoScaleGradient) {
  // y = FakeQuantize(b; s, scale_gradient 0) + x: dB straight through, no gradient for s (the
  // int32 bias's scale is a product of learned scales, eq. (126)).
  Graph g;
  g.opsets[""] = 17;
  std::mt19937 rng(7);
  g.initializers["b"] = random_tensor({4}, rng, -1.f, 1.f);
  g.initializers["s"] = scalar_tensor(0.3f);
  g.initializers["x"] = random_tensor({4}, rng);
  FakeQuantSpec spec;
  spec.qmin = -2147483647;
  spec.qmax = 2147483647;
  spec.scale_gradient = false;
  g.nodes.push_back(make_fake_quantize_node("fq", "b", "s", "", "bq", spec));
  EXPECT_FALSE(FakeQuantSpec::of(g.nodes[0]).scale_gradient);
  Node add;
  add.name = "add";
  add.op_type = "Add";
  add.inputs = {"bq", "x"};
  add.outputs = {"y"};
  g.nodes.push_back(add);
  g.outputs = {"y"};
  Tape tape(g, {"s", "b"});
  tape.forward({});
  for (int64_t i = 0; i < 4; ++i) {
    const float b = g.initializers["b"].data<float>()[i];
    EXPECT_FLOAT_EQ(tape.value("bq").data<float>()[i], std::nearbyint(b / 0.3f) * 0.3f);
  }
  const Tensor dy = random_tensor({4}, rng);
  const auto grads = tape.backward("y", dy);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(grads.at("b").data<float>()[i], dy.data<float>()[i]);
  }
  const auto ds = grads.find("s");
  EXPECT_TRUE(ds == grads.end() || !ds->second.defined() || ds->second.data<float>()[0] == 0.f);
}

TEST(FakeQuantize, RejectsABadScale) {
  const Tensor x = scalar_tensor(1.f);
  EXPECT_THROW(fake_quantize(x, scalar_tensor(0.f), nullptr, fake_quant_range(8, false)), Error);
  EXPECT_THROW(fake_quantize(x, scalar_tensor(-1.f), nullptr, fake_quant_range(8, false)), Error);
}

}  // namespace
}  // namespace quench::train::qat

// QLinearSoftmax's fast kernel (kernels/onednn/qsoftmax.cc, eq. (60)) against the reference, bit
// for bit: attention-shaped rows with ONNX Runtime's parameters, a sweep of row lengths and scales,
// exact ties (which the float path must hand to eq. (41)), empty tensors, and the scales it leaves
// to the reference.
#include <random>

#include "runtime/kernel_registry.h"
#include "test_util.h"

namespace quench {
namespace {

constexpr char kMs[] = "com.microsoft";

struct SoftmaxCase {
  DType dtype;
  Shape shape;
  float x_scale;
  int x_zero_point;
  float y_scale;
  int y_zero_point;
  int64_t axis = -1;
  int64_t opset = 13;  // the node's `opset` attribute
};

Tensor zero_point(DType dtype, int z) {
  return dtype == DType::kUInt8 ? Tensor::scalar(static_cast<uint8_t>(z))
                                : Tensor::scalar(static_cast<int8_t>(z));
}

// Values around the zero point with a spread like attention logits.
Tensor logits(DType dtype, const Shape& shape, int center, float spread, uint32_t seed) {
  Tensor t = Tensor::empty(dtype, shape);
  std::mt19937 rng(seed);
  std::normal_distribution<float> value(static_cast<float>(center), spread);
  const float lo = dtype == DType::kUInt8 ? 0.f : -128.f,
              hi = dtype == DType::kUInt8 ? 255.f : 127.f;
  for (int64_t i = 0; i < t.numel(); ++i) {
    const float v = std::clamp(std::nearbyint(value(rng)), lo, hi);
    if (dtype == DType::kUInt8) {
      t.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    } else {
      t.data<int8_t>()[i] = static_cast<int8_t>(v);
    }
  }
  return t;
}

Node softmax_node(const SoftmaxCase& c) {
  return testing::make_node("QLinearSoftmax", {"x", "xs", "xz", "ys", "yz"}, {"y"},
                            {{"axis", c.axis}, {"opset", c.opset}}, kMs);
}

// The fast kernel on `x`, or an undefined tensor when it declines.
Tensor run_fast(const SoftmaxCase& c, const Tensor& x) {
  const Node node = softmax_node(c);
  const Tensor params[] = {Tensor::scalar(c.x_scale), zero_point(c.dtype, c.x_zero_point),
                           Tensor::scalar(c.y_scale), zero_point(c.dtype, c.y_zero_point)};
  KernelContext ctx{node, 17, {}, {}, 1, false};
  ctx.inputs.push_back(TensorDesc{c.dtype, x.shape(), nullptr, {}});
  for (const Tensor& p : params) ctx.inputs.push_back(TensorDesc{p.dtype(), p.shape(), &p, {}});
  ctx.outputs.push_back(TensorDesc{c.dtype, x.shape(), nullptr, {}});
  const OpDef* def = kernel_registry().find(kMs, "QLinearSoftmax");
  std::unique_ptr<Kernel> kernel;
  for (const FastKernel& fk : def->fast) {
    if (fk.name == "onednn-int8") kernel = fk.make(ctx);
  }
  if (kernel == nullptr) return Tensor();
  Tensor y = Tensor::empty(c.dtype, x.shape());
  auto scratch = aligned_alloc_shared(std::max<size_t>(kernel->scratch_bytes(), 64));
  const void* inputs[] = {x.raw_data(), params[0].raw_data(), params[1].raw_data(),
                          params[2].raw_data(), params[3].raw_data()};
  void* outputs[] = {y.raw_data()};
  kernel->run(KernelArgs{inputs, outputs, scratch.get(), nullptr});
  return y;
}

Tensor run_reference(const SoftmaxCase& c, const Tensor& x) {
  return testing::run_node(softmax_node(c),
                           {x, Tensor::scalar(c.x_scale), zero_point(c.dtype, c.x_zero_point),
                            Tensor::scalar(c.y_scale), zero_point(c.dtype, c.y_zero_point)})
      .at(0);
}

void expect_bit_exact(const SoftmaxCase& c, const Tensor& x) {
  SCOPED_TRACE(std::string(dtype_name(c.dtype)) + " " + shape_str(c.shape) + " s_x " +
               std::to_string(c.x_scale) + " s_y " + std::to_string(c.y_scale));
  const Tensor got = run_fast(c, x);
  ASSERT_TRUE(got.defined()) << "the fast kernel declined";
  const Tensor want = run_reference(c, x);
  ASSERT_EQ(got.shape(), want.shape());
  const auto g = got.to_int64_vector(), w = want.to_int64_vector();
  for (size_t i = 0; i < g.size(); ++i) {
    ASSERT_EQ(g[i], w[i]) << "element " << i;
  }
}

// vit's attention: [N, heads, tokens, tokens] with the scales ONNX Runtime's quantizer wrote.
TEST(Int8VitSoftmax, AttentionRowsMatchReference) {
  const SoftmaxCase u8{DType::kUInt8, {2, 4, 50, 50}, 0.0899f, 120, 1.f / 256, 0};
  expect_bit_exact(u8, logits(u8.dtype, u8.shape, 120, 25.f, 1));
  const SoftmaxCase s8{DType::kInt8, {3, 2, 17, 17}, 0.0802f, -5, 1.f / 256, -128};
  expect_bit_exact(s8, logits(s8.dtype, s8.shape, -5, 30.f, 2));
}

// Row lengths around the 16-wide chunks and the 8-row blocks, scales that make near ties common.
TEST(Int8VitSoftmax, SweepOfRowLengthsAndScales) {
  uint32_t seed = 10;
  for (int64_t n : {1, 2, 5, 15, 16, 17, 31, 33, 50, 64, 100, 300}) {
    for (float x_scale : {0.01f, 0.0899f, 0.7f, 3.f}) {
      for (float y_scale : {1.f / 256, 0.0037f, 1.f / 255, 0.7f / 256}) {
        const SoftmaxCase u8{DType::kUInt8, {11, n}, x_scale, 128, y_scale, 0};
        expect_bit_exact(u8, logits(u8.dtype, u8.shape, 128, 40.f, ++seed));
        const SoftmaxCase s8{DType::kInt8, {3, 3, n}, x_scale, 0, y_scale, -128};
        expect_bit_exact(s8, logits(s8.dtype, s8.shape, 0, 40.f, ++seed));
      }
    }
  }
}

// Rows where eq. (60)'s float v and the reference's value fall on either side of a half-integer
// (found by search; about one element in 10^7 does): the kernel must see the near tie and redo
// the row by eq. (41). Without the redo these give 101 and 110 where the reference gives 100, 109.
TEST(Int8VitSoftmax, NearTiesAreRedoneExactly) {
  const SoftmaxCase u8{DType::kUInt8, {9, 2}, 0x1.6ebd4cp-8f, 0, 1.f / 256, 0};
  Tensor x = Tensor::empty(u8.dtype, u8.shape);
  for (int64_t row = 0; row < 9; ++row) {
    // Rows 0-7 fill a block; row 8 is alone in the last one. Odd rows hold no near tie.
    x.data<uint8_t>()[row * 2] = 200;
    x.data<uint8_t>()[row * 2 + 1] = static_cast<uint8_t>(row % 2 == 0 ? 200 - 78 : 150);
  }
  expect_bit_exact(u8, x);
  EXPECT_EQ(run_fast(u8, x).data<uint8_t>()[1], 100);
  const SoftmaxCase s8{DType::kInt8, {1, 2}, 0x1.8944eep-2f, 0, 0.0037f, -128};
  const Tensor x8 = Tensor::from_vector<int8_t>({1, 2}, {10, 9});
  expect_bit_exact(s8, x8);
  EXPECT_EQ(run_fast(s8, x8).data<int8_t>()[1], 109 - 128);
}

// Equal values: p = 1/n exactly. With n = 512 and s_y = 1/256, p / s_y = 0.5 is an exact tie,
// which both paths round to even (0).
TEST(Int8VitSoftmax, ExactTiesRoundToEven) {
  const SoftmaxCase c{DType::kUInt8, {3, 512}, 0.1f, 0, 1.f / 256, 0};
  Tensor x = Tensor::empty(c.dtype, c.shape);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<uint8_t>()[i] = 77;
  x.data<uint8_t>()[0] = 200;
  expect_bit_exact(c, x);
  EXPECT_EQ(run_fast(c, x).data<uint8_t>()[512], 0);
}

// A middle axis (strided groups) and opset 11's coercion still match.
TEST(Int8VitSoftmax, OtherAxesMatchReference) {
  SoftmaxCase middle{DType::kUInt8, {2, 50, 3, 4}, 0.05f, 100, 1.f / 256, 0, 1, 13};
  expect_bit_exact(middle, logits(middle.dtype, middle.shape, 100, 30.f, 3));
  SoftmaxCase coerced{DType::kInt8, {4, 5, 10}, 0.09f, 0, 1.f / 256, -128, 1, 11};
  expect_bit_exact(coerced, logits(coerced.dtype, coerced.shape, 0, 30.f, 4));
}

TEST(Int8VitSoftmax, EmptyTensors) {
  for (const Shape& shape : {Shape{0, 50}, Shape{4, 0}, Shape{2, 0, 7}}) {
    const SoftmaxCase c{DType::kUInt8, shape, 0.1f, 0, 1.f / 256, 0};
    expect_bit_exact(c, Tensor::empty(c.dtype, shape));
  }
}

// Output scales outside eq. (60)'s range are left to the reference kernel.
TEST(Int8VitSoftmax, ExtremeOutputScalesAreLeftToTheReference) {
  for (float y_scale : {1e-30f, 1e30f}) {
    const SoftmaxCase c{DType::kUInt8, {2, 20}, 0.1f, 0, y_scale, 0};
    const Tensor x = logits(c.dtype, c.shape, 128, 30.f, 5);
    EXPECT_FALSE(run_fast(c, x).defined());
    EXPECT_NO_THROW(run_reference(c, x));
  }
  // A zero scale is the file's error (params.h, check_quant_scales), named by the node.
  const SoftmaxCase zero{DType::kUInt8, {2, 20}, 0.1f, 0, 0.f, 0};
  try {
    run_reference(zero, logits(zero.dtype, zero.shape, 128, 30.f, 5));
    ADD_FAILURE() << "a zero y_scale was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidModel) << e.what();
    EXPECT_NE(std::string(e.what()).find("scale 0"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace quench

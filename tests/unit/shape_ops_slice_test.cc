// Slice, Pad, Concat, Split with constant parameters: examples from the ONNX spec and edge cases.
#include <gtest/gtest.h>

#include <climits>

#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::run_node;
using testing::same;

Tensor ints(std::vector<int64_t> values) {
  return make<int64_t>({static_cast<int64_t>(values.size())}, values);
}

Tensor iota_f32(Shape shape) {
  Tensor t = Tensor::empty(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = static_cast<float>(i);
  return t;
}

// ---- Slice ----

Tensor slice(const Tensor& x, std::vector<int64_t> starts, std::vector<int64_t> ends,
             std::vector<int64_t> axes = {}, std::vector<int64_t> steps = {}) {
  Node n = make_node(
      "Slice", {"x", "starts", "ends", axes.empty() ? "" : "axes", steps.empty() ? "" : "steps"},
      {"y"});
  return run_node(n, {x, ints(starts), ints(ends), axes.empty() ? Tensor() : ints(axes),
                      steps.empty() ? Tensor() : ints(steps)})[0];
}

const Tensor kSpecData = make<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});

TEST(Slice, SpecExamples) {
  EXPECT_TRUE(same(slice(kSpecData, {1, 0}, {2, 3}, {0, 1}, {1, 2}), make<float>({1, 2}, {5, 7})));
  EXPECT_TRUE(same(slice(kSpecData, {0, 1}, {-1, 1000}), make<float>({1, 3}, {2, 3, 4})));
}

TEST(Slice, NegativeSteps) {
  const Tensor x = iota_f32({10});
  EXPECT_TRUE(same(slice(x, {8}, {1}, {0}, {-3}), make<float>({3}, {8, 5, 2})));
  EXPECT_TRUE(same(slice(x, {-1}, {INT64_MIN}, {0}, {-4}), make<float>({3}, {9, 5, 1})));
  // Backwards, a start past the end clamps to the last element.
  EXPECT_TRUE(same(slice(x, {100}, {6}, {0}, {-2}), make<float>({2}, {9, 7})));
  // An end of -1 is index 9 (the dim is added), not "before 0": from 3 backwards nothing is read.
  EXPECT_EQ(slice(x, {3}, {-1}, {0}, {-1}).shape(), Shape{0});
  EXPECT_TRUE(same(slice(kSpecData, {-1, -1}, {INT64_MIN, INT64_MIN}, {0, 1}, {-1, -1}),
                   make<float>({2, 4}, {8, 7, 6, 5, 4, 3, 2, 1})));
}

TEST(Slice, ClampsOutOfRangeBounds) {
  const Tensor x = iota_f32({5});
  EXPECT_TRUE(same(slice(x, {-100}, {100}), x));
  EXPECT_TRUE(same(slice(x, {2}, {INT64_MAX}), make<float>({3}, {2, 3, 4})));
  EXPECT_EQ(slice(x, {20}, {30}).shape(), Shape{0});
  EXPECT_EQ(slice(x, {3}, {1}).shape(), Shape{0});
  EXPECT_TRUE(same(slice(x, {1}, {INT64_MAX}, {0}, {INT64_MAX}), make<float>({1}, {1})));
}

TEST(Slice, NegativeAxesAndInt32Indices) {
  EXPECT_TRUE(same(slice(kSpecData, {1}, {3}, {-1}), make<float>({2, 2}, {2, 3, 6, 7})));
  Node n = make_node("Slice", {"x", "starts", "ends", "axes"}, {"y"});
  auto y = run_node(n, {kSpecData, make<int32_t>({1}, {-2}), make<int32_t>({1}, {INT32_MAX}),
                        make<int32_t>({1}, {1})});
  EXPECT_TRUE(same(y[0], make<float>({2, 2}, {3, 4, 7, 8})));
}

TEST(Slice, AttributesBeforeOpset10) {
  Node n = make_node("Slice", {"x"}, {"y"},
                     {{"starts", std::vector<int64_t>{1}},
                      {"ends", std::vector<int64_t>{-1}},
                      {"axes", std::vector<int64_t>{1}}});
  EXPECT_TRUE(same(run_node(n, {kSpecData}, 9)[0], make<float>({2, 2}, {2, 3, 6, 7})));
}

TEST(Slice, MovesOtherTypesAndEmptyTensors) {
  EXPECT_TRUE(same(slice(make<bool>({4}, {true, false, false, true}), {1}, {4}, {0}, {2}),
                   make<bool>({2}, {false, true})));
  EXPECT_TRUE(same(slice(make<uint8_t>({3}, {7, 8, 9}), {-1}, {-4}, {0}, {-1}),
                   make<uint8_t>({3}, {9, 8, 7})));
  EXPECT_EQ(slice(Tensor::empty(DType::kInt64, {0, 3}), {0, 1}, {5, 2}).shape(), (Shape{0, 1}));
}

TEST(Slice, RejectsBadParameters) {
  EXPECT_THROW(slice(kSpecData, {0}, {1}, {0}, {0}), Error);       // step 0
  EXPECT_THROW(slice(kSpecData, {0, 0}, {1, 1}, {1, -1}), Error);  // axis twice
  EXPECT_THROW(slice(kSpecData, {0}, {1}, {2}), Error);            // axis out of range
  EXPECT_THROW(slice(kSpecData, {0, 0}, {1}), Error);              // lengths differ
}

// ---- Pad ----

const Tensor kPadData = make<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});

Tensor pad(const Tensor& x, std::vector<int64_t> pads, const char* mode, Tensor value = Tensor()) {
  Node n = make_node("Pad", {"x", "pads", value.defined() ? "value" : ""}, {"y"},
                     {{"mode", std::string(mode)}});
  return run_node(n, {x, ints(pads), value})[0];
}

TEST(Pad, SpecExamples) {
  EXPECT_TRUE(same(pad(kPadData, {0, 2, 0, 0}, "constant"),
                   make<float>({3, 4}, {0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f})));
  EXPECT_TRUE(same(pad(kPadData, {0, 2, 0, 0}, "reflect"),
                   make<float>({3, 4}, {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f,
                                        4.5f, 5.7f})));
  EXPECT_TRUE(same(pad(kPadData, {0, 2, 0, 0}, "edge"),
                   make<float>({3, 4}, {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f, 4.5f, 4.5f,
                                        4.5f, 5.7f})));
}

TEST(Pad, ConstantValueAndBothEnds) {
  EXPECT_TRUE(same(pad(make<float>({2}, {1, 2}), {1, 2}, "constant", Tensor::scalar(9.5f)),
                   make<float>({5}, {9.5f, 1, 2, 9.5f, 9.5f})));
  EXPECT_TRUE(
      same(pad(make<int64_t>({1, 1}, {5}), {1, 0, 0, 1}, "constant", Tensor::scalar<int64_t>(-1)),
           make<int64_t>({2, 2}, {-1, -1, 5, -1})));
  EXPECT_TRUE(same(pad(make<bool>({1}, {true}), {1, 1}, "constant"),
                   make<bool>({3}, {false, true, false})));
}

TEST(Pad, NegativePadsCrop) {
  EXPECT_TRUE(same(pad(make<uint8_t>({4}, {1, 2, 3, 4}), {-1, 1}, "constant"),
                   make<uint8_t>({4}, {2, 3, 4, 0})));
  EXPECT_TRUE(
      same(pad(make<uint8_t>({4}, {1, 2, 3, 4}), {-3, 2}, "edge"), make<uint8_t>({3}, {4, 4, 4})));
}

TEST(Pad, WideReflectionRepeatsLikeNumpy) {
  // numpy.pad([1, 2, 3], 5, "reflect")
  EXPECT_TRUE(same(pad(make<float>({3}, {1, 2, 3}), {5, 5}, "reflect"),
                   make<float>({13}, {2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3, 2})));
  EXPECT_TRUE(same(pad(make<float>({1}, {4}), {2, 1}, "reflect"), make<float>({4}, {4, 4, 4, 4})));
}

TEST(Pad, AttributesBeforeOpset11) {
  Node n = make_node("Pad", {"x"}, {"y"}, {{"pads", std::vector<int64_t>{1, 0}}, {"value", 0.25f}});
  EXPECT_TRUE(same(run_node(n, {make<float>({1}, {3})}, 10)[0], make<float>({2}, {0.25f, 3})));
}

TEST(Pad, EmptyInput) {
  EXPECT_TRUE(
      same(pad(Tensor::empty(DType::kFloat32, {0}), {1, 1}, "constant"), make<float>({2}, {0, 0})));
  EXPECT_EQ(pad(Tensor::empty(DType::kFloat32, {0, 2}), {0, 1, 0, 1}, "edge").shape(),
            (Shape{0, 4}));
}

TEST(Pad, RejectsBadParameters) {
  EXPECT_THROW(pad(kPadData, {0, 2}, "constant"), Error);          // 2 values for rank 2
  EXPECT_THROW(pad(kPadData, {-2, 0, -2, 0}, "constant"), Error);  // crops 4 of 3
  EXPECT_THROW(pad(kPadData, {0, 1, 0, 0}, "wrap"), Error);
  EXPECT_THROW(pad(Tensor::empty(DType::kFloat32, {0}), {1, 0}, "reflect"), Error);
}

// ---- Concat ----

Tensor concat(std::vector<Tensor> inputs, int64_t axis) {
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) names.push_back(fmt::format("x{}", i));
  return run_node(make_node("Concat", names, {"y"}, {{"axis", axis}}), inputs)[0];
}

TEST(Concat, JoinsAlongTheAxis) {
  const Tensor a = make<float>({2, 2}, {1, 2, 3, 4});
  const Tensor b = make<float>({2, 1}, {5, 6});
  EXPECT_TRUE(same(concat({a, b}, 1), make<float>({2, 3}, {1, 2, 5, 3, 4, 6})));
  EXPECT_TRUE(same(concat({a, b}, -1), make<float>({2, 3}, {1, 2, 5, 3, 4, 6})));
  EXPECT_TRUE(same(concat({a, a}, 0), make<float>({4, 2}, {1, 2, 3, 4, 1, 2, 3, 4})));
  EXPECT_TRUE(
      same(concat({make<int64_t>({1}, {7}), make<int64_t>({0}, {}), make<int64_t>({2}, {8, 9})}, 0),
           make<int64_t>({3}, {7, 8, 9})));
  EXPECT_TRUE(same(concat({make<bool>({1}, {true})}, 0), make<bool>({1}, {true})));
}

TEST(Concat, RejectsMismatchedInputs) {
  const Tensor a = make<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(concat({a, make<float>({3, 1}, {1, 2, 3})}, 1), Error);  // dim 0 differs
  EXPECT_THROW(concat({a, make<float>({2}, {1, 2})}, 0), Error);        // rank differs
  EXPECT_THROW(concat({a, make<int64_t>({2, 2}, {1, 2, 3, 4})}, 0), Error);
  EXPECT_THROW(concat({a, a}, 2), Error);
  EXPECT_THROW(run_node(make_node("Concat", {"a", "b"}, {"y"}), {a, a}), Error);  // no axis
}

// ---- Split ----

std::vector<Tensor> split(const Tensor& x, size_t parts, int64_t axis,
                          std::optional<std::vector<int64_t>> sizes, int64_t opset = 13) {
  std::vector<std::string> outputs;
  for (size_t i = 0; i < parts; ++i) outputs.push_back(fmt::format("y{}", i));
  if (opset < 13) {
    Node n = make_node("Split", {"x"}, outputs, {{"axis", axis}});
    if (sizes) n.set_attr("split", *sizes);
    return run_node(n, {x}, opset);
  }
  Node n = make_node("Split", {"x", sizes ? "split" : ""}, outputs, {{"axis", axis}});
  return run_node(n, {x, sizes ? ints(*sizes) : Tensor()}, opset);
}

TEST(Split, EqualParts) {
  auto y = split(make<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8}), 2, 1, std::nullopt);
  EXPECT_TRUE(same(y[0], make<float>({2, 2}, {1, 2, 5, 6})));
  EXPECT_TRUE(same(y[1], make<float>({2, 2}, {3, 4, 7, 8})));
}

TEST(Split, UnevenSizesAndNegativeAxis) {
  auto y = split(make<int64_t>({6}, {1, 2, 3, 4, 5, 6}), 3, -1, std::vector<int64_t>{1, 2, 3});
  EXPECT_TRUE(same(y[0], make<int64_t>({1}, {1})));
  EXPECT_TRUE(same(y[1], make<int64_t>({2}, {2, 3})));
  EXPECT_TRUE(same(y[2], make<int64_t>({3}, {4, 5, 6})));
  y = split(make<uint8_t>({3, 1}, {1, 2, 3}), 2, 0, std::vector<int64_t>{0, 3});
  EXPECT_EQ(y[0].shape(), (Shape{0, 1}));
  EXPECT_TRUE(same(y[1], make<uint8_t>({3, 1}, {1, 2, 3})));
}

TEST(Split, AttributeBeforeOpset13) {
  auto y = split(make<bool>({3}, {true, false, true}), 2, 0, std::vector<int64_t>{2, 1}, 11);
  EXPECT_TRUE(same(y[0], make<bool>({2}, {true, false})));
  EXPECT_TRUE(same(y[1], make<bool>({1}, {true})));
  y = split(iota_f32({4}), 2, 0, std::nullopt, 2);
  EXPECT_TRUE(same(y[1], make<float>({2}, {2, 3})));
}

TEST(Split, RejectsUnevenEqualSplitAndBadSizes) {
  // Up to opset 17 parts without sizes must be equal.
  EXPECT_THROW(split(iota_f32({7}), 3, 0, std::nullopt), Error);
  EXPECT_THROW(split(iota_f32({6}), 2, 0, std::vector<int64_t>{2, 3}), Error);     // sum 5
  EXPECT_THROW(split(iota_f32({6}), 2, 0, std::vector<int64_t>{1, 2, 3}), Error);  // 3 sizes
  EXPECT_THROW(split(iota_f32({6}), 2, 0, std::vector<int64_t>{7, -1}), Error);
  EXPECT_THROW(split(iota_f32({6}), 2, 1, std::nullopt), Error);
}

}  // namespace
}  // namespace quench

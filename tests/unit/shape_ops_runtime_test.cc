// Shape ops whose parameters (pads, starts, indices, ...) are graph inputs, known only at run
// time: the runtime plans the output from the declared shape and the kernel must produce it from
// the values, or fail with an Error when they disagree.
#include <gtest/gtest.h>

#include "ops/op_registry.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::same;

Tensor ints(std::vector<int64_t> values) {
  return make<int64_t>({static_cast<int64_t>(values.size())}, values);
}

// Builds the reference kernel of `node` for inputs that are not constants and outputs of the
// planned types and shapes, then runs it once.
std::vector<Tensor> run_planned(const Node& node, int64_t opset, const std::vector<Tensor>& inputs,
                                const std::vector<std::pair<DType, Shape>>& outputs) {
  KernelContext ctx{node, opset, {}, {}, 1};
  std::vector<const void*> in_ptrs;
  for (const Tensor& t : inputs) {
    ctx.inputs.push_back(t.defined() ? TensorDesc{t.dtype(), t.shape(), nullptr, {}}
                                     : TensorDesc{});
    in_ptrs.push_back(t.defined() ? t.raw_data() : nullptr);
  }
  std::vector<Tensor> results;
  std::vector<void*> out_ptrs;
  for (const auto& [dtype, shape] : outputs) {
    ctx.outputs.push_back(TensorDesc{dtype, shape, nullptr, {}});
    results.push_back(Tensor::zeros(dtype, shape));
    out_ptrs.push_back(results.back().raw_data());
  }
  auto kernel = op_registry().find("", node.op_type)->reference(ctx);
  EXPECT_NE(kernel, nullptr);
  std::shared_ptr<void> scratch = aligned_alloc_shared(kernel->scratch_bytes());
  kernel->run(KernelArgs{in_ptrs.data(), out_ptrs.data(), scratch.get(), nullptr});
  return results;
}

template <class Fn>
ErrorKind error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.kind();
  }
  ADD_FAILURE() << "no quench::Error thrown";
  return ErrorKind::kInternal;
}

const Tensor kData = make<float>({2, 4}, {1, 2, 3, 4, 5, 6, 7, 8});

TEST(RuntimeParameters, Slice) {
  Node n = make_node("Slice", {"x", "starts", "ends", "axes", "steps"}, {"y"});
  const std::vector<Tensor> inputs{kData, ints({1, 0}), ints({2, 3}), ints({0, -1}), ints({1, 2})};
  auto y = run_planned(n, 13, inputs, {{DType::kFloat32, {1, 2}}});
  EXPECT_TRUE(same(y[0], make<float>({1, 2}, {5, 7})));
  // Backwards with int32 parameters and default axes.
  Node reverse = make_node("Slice", {"x", "starts", "ends", "", "steps"}, {"y"});
  y = run_planned(reverse, 13,
                  {kData, make<int32_t>({2}, {-1, -1}), make<int32_t>({2}, {-3, INT32_MIN}),
                   Tensor(), make<int32_t>({2}, {-1, -2})},
                  {{DType::kFloat32, {2, 2}}});
  EXPECT_TRUE(same(y[0], make<float>({2, 2}, {8, 6, 4, 2})));
  // Values that disagree with the planned shape, or name a bad axis, fail instead of reading
  // outside the input.
  EXPECT_EQ(error_of([&] {
              run_planned(n, 13, inputs, {{DType::kFloat32, {1, 3}}});
            }),
            ErrorKind::kInvalidArgument);
  EXPECT_EQ(error_of([&] {
              run_planned(n, 13, inputs, {{DType::kFloat32, {2, 2}}});
            }),
            ErrorKind::kInvalidArgument);
  const std::vector<Tensor> bad_axis{kData, ints({0}), ints({1}), ints({2}), ints({1})};
  EXPECT_EQ(error_of([&] {
              run_planned(n, 13, bad_axis, {{DType::kFloat32, {2, 4}}});
            }),
            ErrorKind::kInvalidArgument);
  const std::vector<Tensor> same_axis{kData, ints({0, 0}), ints({1, 1}), ints({1, 1}),
                                      ints({1, 1})};
  EXPECT_EQ(error_of([&] {
              run_planned(n, 13, same_axis, {{DType::kFloat32, {2, 1}}});
            }),
            ErrorKind::kInvalidArgument);
}

TEST(RuntimeParameters, Pad) {
  Node n = make_node("Pad", {"x", "pads", "value"}, {"y"}, {{"mode", std::string("constant")}});
  auto y =
      run_planned(n, 13, {make<int32_t>({2}, {1, 2}), ints({1, 0}), Tensor::scalar<int32_t>(-5)},
                  {{DType::kInt32, {3}}});
  EXPECT_TRUE(same(y[0], make<int32_t>({3}, {-5, 1, 2})));
  Node edge = make_node("Pad", {"x", "pads"}, {"y"}, {{"mode", std::string("edge")}});
  y = run_planned(edge, 13, {make<uint8_t>({2}, {1, 2}), ints({0, 2})}, {{DType::kUInt8, {4}}});
  EXPECT_TRUE(same(y[0], make<uint8_t>({4}, {1, 2, 2, 2})));
  EXPECT_EQ(
      error_of([&] {
        run_planned(edge, 13, {make<uint8_t>({2}, {1, 2}), ints({0, 2})}, {{DType::kUInt8, {5}}});
      }),
      ErrorKind::kInvalidArgument);
}

TEST(RuntimeParameters, GatherIndicesOutOfRangeAreErrors) {
  Node n = make_node("Gather", {"data", "indices"}, {"y"}, {{"axis", int64_t{1}}});
  auto y = run_planned(n, 13, {kData, make<int64_t>({2}, {-1, 0})}, {{DType::kFloat32, {2, 2}}});
  EXPECT_TRUE(same(y[0], make<float>({2, 2}, {4, 1, 8, 5})));
  for (int64_t bad : std::vector<int64_t>{4, -5, INT64_MAX, INT64_MIN}) {
    EXPECT_EQ(error_of([&] {
                run_planned(n, 13, {kData, make<int64_t>({1}, {bad})}, {{DType::kFloat32, {2, 1}}});
              }),
              ErrorKind::kInvalidArgument)
        << bad;
  }
  Node elements = make_node("GatherElements", {"data", "indices"}, {"y"}, {{"axis", int64_t{0}}});
  EXPECT_EQ(
      error_of([&] {
        run_planned(elements, 13, {kData, make<int32_t>({1, 1}, {2})}, {{DType::kFloat32, {1, 1}}});
      }),
      ErrorKind::kInvalidArgument);
}

TEST(RuntimeParameters, ShapesComeFromThePlan) {
  auto y = run_planned(make_node("Reshape", {"x", "s"}, {"y"}), 13, {kData, ints({4, -1})},
                       {{DType::kFloat32, {4, 2}}});
  EXPECT_TRUE(same(y[0], kData.reshaped({4, 2})));
  y = run_planned(make_node("Expand", {"x", "s"}, {"y"}), 13,
                  {make<int64_t>({2, 1}, {1, 2}), ints({1, 3})}, {{DType::kInt64, {2, 3}}});
  EXPECT_TRUE(same(y[0], make<int64_t>({2, 3}, {1, 1, 1, 2, 2, 2})));
  y = run_planned(make_node("Tile", {"x", "r"}, {"y"}), 13,
                  {make<bool>({2}, {true, false}), ints({2})}, {{DType::kBool, {4}}});
  EXPECT_TRUE(same(y[0], make<bool>({4}, {true, false, true, false})));
  y = run_planned(make_node("Split", {"x", "split"}, {"a", "b"}, {{"axis", int64_t{1}}}), 13,
                  {kData, ints({3, 1})}, {{DType::kFloat32, {2, 3}}, {DType::kFloat32, {2, 1}}});
  EXPECT_TRUE(same(y[0], make<float>({2, 3}, {1, 2, 3, 5, 6, 7})));
  EXPECT_TRUE(same(y[1], make<float>({2, 1}, {4, 8})));
  y = run_planned(make_node("ConstantOfShape", {"s"}, {"y"}), 13, {ints({2})},
                  {{DType::kFloat32, {2}}});
  EXPECT_TRUE(same(y[0], make<float>({2}, {0, 0})));
  // A planned shape that no broadcast or tiling explains is an error when the kernel is built.
  EXPECT_THROW(run_planned(make_node("Expand", {"x", "s"}, {"y"}), 13, {kData, ints({3, 4})},
                           {{DType::kFloat32, {3, 4}}}),
               Error);
  EXPECT_THROW(run_planned(make_node("Tile", {"x", "r"}, {"y"}), 13, {kData, ints({1, 1})},
                           {{DType::kFloat32, {3, 4}}}),
               Error);
}

TEST(RuntimeParameters, Range) {
  Node n = make_node("Range", {"s", "l", "d"}, {"y"});
  const std::vector<Tensor> inputs{Tensor::scalar(1.f), Tensor::scalar(2.f), Tensor::scalar(0.25f)};
  auto y = run_planned(n, 11, inputs, {{DType::kFloat32, {4}}});
  EXPECT_TRUE(same(y[0], make<float>({4}, {1, 1.25f, 1.5f, 1.75f})));
  EXPECT_EQ(error_of([&] {
              run_planned(n, 11, inputs, {{DType::kFloat32, {5}}});
            }),
            ErrorKind::kInvalidArgument);
}

TEST(RuntimeParameters, DropoutTrainingModeIsCheckedWhenRunning) {
  Node n = make_node("Dropout", {"x", "r", "t"}, {"y"});
  const Tensor x = make<float>({2}, {1, 2});
  auto y = run_planned(n, 13, {x, Tensor::scalar(0.7f), Tensor::scalar(false)},
                       {{DType::kFloat32, {2}}});
  EXPECT_TRUE(same(y[0], x));
  EXPECT_EQ(error_of([&] {
              run_planned(n, 13, {x, Tensor::scalar(0.7f), Tensor::scalar(true)},
                          {{DType::kFloat32, {2}}});
            }),
            ErrorKind::kUnsupported);
}

}  // namespace
}  // namespace quench

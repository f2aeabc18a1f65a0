// Gather and GatherElements: axes, negative and scalar indices, index types, range errors.
#include <gtest/gtest.h>

#include "test_util.h"

namespace quench {
namespace {

using testing::make;
using testing::make_node;
using testing::run_node;
using testing::same;

Tensor gather(const Tensor& data, const Tensor& indices, int64_t axis) {
  return run_node(make_node("Gather", {"data", "indices"}, {"y"}, {{"axis", axis}}),
                  {data, indices})[0];
}

const Tensor kData = make<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});

TEST(Gather, SpecExampleAxis0) {
  EXPECT_TRUE(same(gather(kData, make<int64_t>({2, 2}, {0, 1, 1, 2}), 0),
                   make<float>({2, 2, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f, 4.5f, 5.7f})));
}

TEST(Gather, InnerAxisAndNegativeAxis) {
  const Tensor data = make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor want = make<int64_t>({2, 1, 2}, {3, 1, 6, 4});
  EXPECT_TRUE(same(gather(data, make<int32_t>({1, 2}, {2, 0}), 1), want));
  EXPECT_TRUE(same(gather(data, make<int32_t>({1, 2}, {2, 0}), -1), want));
}

TEST(Gather, NegativeIndicesCountFromTheEnd) {
  EXPECT_TRUE(same(gather(kData, make<int64_t>({2}, {-1, -3}), 0),
                   make<float>({2, 2}, {4.5f, 5.7f, 1.0f, 1.2f})));
}

TEST(Gather, ScalarIndexRemovesTheAxis) {
  EXPECT_TRUE(same(gather(kData, Tensor::scalar<int64_t>(1), 0), make<float>({2}, {2.3f, 3.4f})));
  EXPECT_TRUE(same(gather(make<uint8_t>({2, 2}, {1, 2, 3, 4}), Tensor::scalar<int32_t>(-1), 1),
                   make<uint8_t>({2}, {2, 4})));
  // The Shape -> Gather pattern of exported models: one dim of a shape, as a scalar.
  EXPECT_TRUE(same(gather(make<int64_t>({3}, {8, 3, 224}), Tensor::scalar<int64_t>(0), 0),
                   Tensor::scalar<int64_t>(8)));
}

TEST(Gather, BoolDataAndEmptyIndices) {
  EXPECT_TRUE(same(gather(make<bool>({3}, {true, false, false}), make<int64_t>({2}, {1, 0}), 0),
                   make<bool>({2}, {false, true})));
  EXPECT_EQ(gather(kData, make<int64_t>({0}, {}), 1).shape(), (Shape{3, 0}));
}

TEST(Gather, OutOfRangeIndexIsAnError) {
  EXPECT_THROW(gather(kData, make<int64_t>({1}, {3}), 0), Error);
  EXPECT_THROW(gather(kData, make<int64_t>({1}, {-4}), 0), Error);
  EXPECT_THROW(gather(kData, make<int32_t>({1}, {2}), 1), Error);
  EXPECT_THROW(gather(kData, make<int64_t>({1}, {0}), 2), Error);
  EXPECT_THROW(gather(kData, make<float>({1}, {0}), 0), Error);  // float indices
}

Tensor gather_elements(const Tensor& data, const Tensor& indices, int64_t axis) {
  return run_node(make_node("GatherElements", {"data", "indices"}, {"y"}, {{"axis", axis}}),
                  {data, indices})[0];
}

TEST(GatherElements, SpecExamples) {
  EXPECT_TRUE(same(
      gather_elements(make<float>({2, 2}, {1, 2, 3, 4}), make<int64_t>({2, 2}, {0, 0, 1, 0}), 1),
      make<float>({2, 2}, {1, 1, 4, 3})));
  EXPECT_TRUE(same(gather_elements(make<float>({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}),
                                   make<int32_t>({2, 3}, {1, 2, 0, 2, 0, 0}), 0),
                   make<float>({2, 3}, {4, 8, 3, 7, 2, 3})));
}

TEST(GatherElements, NegativeAxisAndIndices) {
  EXPECT_TRUE(same(gather_elements(make<int64_t>({2, 3}, {1, 2, 3, 4, 5, 6}),
                                   make<int64_t>({2, 1}, {-1, -3}), -1),
                   make<int64_t>({2, 1}, {3, 4})));
  EXPECT_EQ(
      gather_elements(make<bool>({2, 2}, {true, false, true, false}), make<int64_t>({0, 2}, {}), 0)
          .shape(),
      (Shape{0, 2}));
}

TEST(GatherElements, RejectsBadIndices) {
  const Tensor data = make<float>({2, 2}, {1, 2, 3, 4});
  EXPECT_THROW(gather_elements(data, make<int64_t>({1, 1}, {2}), 0), Error);
  EXPECT_THROW(gather_elements(data, make<int64_t>({1, 1}, {-3}), 1), Error);
  EXPECT_THROW(gather_elements(data, make<int64_t>({2}, {0, 1}), 0), Error);        // rank
  EXPECT_THROW(gather_elements(data, make<int64_t>({1, 3}, {0, 0, 0}), 0), Error);  // dim 1
}

}  // namespace
}  // namespace quench

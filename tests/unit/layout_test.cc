// Layouts every backend shares (kernels/layout.h): permuted layouts, their equality where size-1
// dims move, their own strided conversion, and the runtime's choice of a conversion kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/layout.h"
#include "runtime/kernel_registry.h"

namespace quench {
namespace {

std::vector<float> convert(const Shape& shape, const Layout& from, const Layout& to,
                           const std::vector<float>& values, bool layouts_own = false) {
  std::unique_ptr<Kernel> kernel =
      layouts_own
          ? (from.plain() ? to : from).blocked->make_reorder(DType::kFloat32, shape, from, to)
          : make_reorder_kernel(DType::kFloat32, shape, from, to);
  EXPECT_NE(kernel, nullptr);
  std::vector<float> out(values.size());
  const void* in = values.data();
  void* dst = out.data();
  const std::unique_ptr<KernelState> state = kernel->make_state();
  const auto scratch = aligned_alloc_shared(std::max<size_t>(kernel->scratch_bytes(), 64));
  kernel->run(KernelArgs{&in, &dst, scratch.get(), state.get()});
  return out;
}

TEST(PermutedLayout, ChannelsLastStridesAndEquality) {
  const Shape shape{2, 3, 4, 5};
  const Layout last = channels_last_layout(DType::kFloat32, shape);
  ASSERT_FALSE(last.plain());
  const auto* permuted = dynamic_cast<const PermutedLayout*>(last.blocked.get());
  ASSERT_NE(permuted, nullptr);
  EXPECT_EQ(permuted->strides(), (Shape{60, 1, 15, 3}));
  EXPECT_EQ(last.blocked_bytes, 2u * 3 * 4 * 5 * 4);
  EXPECT_TRUE(is_channels_last(last, shape));
  EXPECT_FALSE(is_channels_last(Layout{}, shape));
  // With one channel, channels last places elements as plain does.
  EXPECT_TRUE(channels_last_layout(DType::kFloat32, {2, 1, 4, 5}).plain());
  // Size-1 dims may stand anywhere in the order; what counts is the order of the others.
  const Shape unit{1, 4, 1, 3};
  EXPECT_TRUE(same_layout(permuted_layout(DType::kFloat32, unit, {0, 2, 3, 1}),
                          permuted_layout(DType::kFloat32, unit, {2, 0, 3, 1})));
  EXPECT_FALSE(same_layout(permuted_layout(DType::kFloat32, unit, {0, 2, 3, 1}),
                           permuted_layout(DType::kFloat32, unit, {0, 1, 2, 3})));
}

TEST(PermutedLayout, ConversionsAgreeAndRoundTrip) {
  const Shape shape{2, 3, 2, 2};
  std::vector<float> plain(24);
  std::iota(plain.begin(), plain.end(), 0.f);
  const Layout last = channels_last_layout(DType::kFloat32, shape);
  const std::vector<float> stored = convert(shape, Layout{}, last, plain);
  // [n][h][w][c]: element (n=0, h=0, w=1) holds channels 1, 5, 9 of plain.
  EXPECT_EQ(stored[3], 1.f);
  EXPECT_EQ(stored[4], 5.f);
  EXPECT_EQ(stored[5], 9.f);
  EXPECT_EQ(convert(shape, Layout{}, last, plain, true), stored);  // the layout's own kernel
  EXPECT_EQ(convert(shape, last, Layout{}, stored), plain);
  EXPECT_EQ(convert(shape, last, Layout{}, stored, true), plain);
}

}  // namespace
}  // namespace quench

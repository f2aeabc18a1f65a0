// Resource limits (quench/limits.h): sizes counted without overflow, refused before allocating,
// overridable at run time.
#include <gtest/gtest.h>

#include <string>

#include "core/resource_check.h"
#include "quench/limits.h"
#include "quench/tensor.h"

namespace quench {
namespace {

// The limits in force for one test, restored after it.
class ScopedLimits {
 public:
  explicit ScopedLimits(const ResourceLimits& limits) : previous_(set_resource_limits(limits)) {}
  ~ScopedLimits() { set_resource_limits(previous_); }

 private:
  ResourceLimits previous_;
};

// The message of the kResource error `f` throws ("" when it throws nothing).
template <class F>
std::string resource_error(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kResource) << e.what();
    return e.what();
  }
  return "";
}

TEST(ResourceLimits, TensorSizesSaturateInsteadOfOverflowing) {
  // 2^40 four times is 2^160 elements: a 128-bit product would wrap to a small number.
  const int64_t big = int64_t{1} << 40;
  const std::string message = resource_error([&] {
    check_tensor_fits(DType::kFloat32, Shape{big, big, big, big}, "'y'");
  });
  EXPECT_NE(message.find("'y'"), std::string::npos) << message;
  EXPECT_NE(message.find("more than 16 EiB"), std::string::npos) << message;
  EXPECT_NE(message.find("QUENCH_MAX_TENSOR_BYTES"), std::string::npos) << message;
  EXPECT_NE(resource_error([&] {
              check_tensor_fits(DType::kUInt8, Shape{INT64_MAX, INT64_MAX, INT64_MAX, 2}, "'z'");
            }),
            "");
  // A zero dim makes any other dims empty.
  EXPECT_EQ(resource_error([&] {
              check_tensor_fits(DType::kFloat32, Shape{big, big, big, 0}, "e");
            }),
            "");
}

TEST(ResourceLimits, LoweredTensorLimitRefusesBeforeAllocating) {
  const ScopedLimits scoped(ResourceLimits{1 << 20, 0, 0});
  EXPECT_EQ(resource_limits().max_tensor_bytes, uint64_t{1} << 20);
  EXPECT_NO_THROW(Tensor::empty(DType::kFloat32, {256, 1024}));  // exactly 1 MiB
  const std::string message = resource_error([] { Tensor::empty(DType::kFloat32, {256, 1025}); });
  EXPECT_NE(message.find("[256,1025]"), std::string::npos) << message;
  EXPECT_NE(message.find("1.0 MiB"), std::string::npos) << message;
  EXPECT_NE(resource_error([] { aligned_alloc_shared((1 << 20) + 1); }), "");
}

TEST(ResourceLimits, NodeAndPixelLimits) {
  const ScopedLimits scoped(ResourceLimits{0, 10, 100});
  EXPECT_NO_THROW(check_node_count(10, "graph 'g'"));
  EXPECT_NE(resource_error([] { check_node_count(11, "graph 'g'"); }).find("11 nodes"),
            std::string::npos);
  EXPECT_NO_THROW(check_image_pixels(10, 10, "image 'a.png'"));
  EXPECT_NE(resource_error([] { check_image_pixels(11, 10, "image 'a.png'"); }).find("11x10"),
            std::string::npos);
  EXPECT_NO_THROW(check_image_pixels(0, 4294967295, "image 'a.png'"));
  // fuzz_image: a PNG header of 2^32 - 1 by 2^32 - 1 pixels, whose product overflows an int64.
  EXPECT_NE(resource_error([] {
              check_image_pixels(4294967295, 4294967295, "image 'b.png'");
            }).find("4294967295x4294967295"),
            std::string::npos);
  EXPECT_NE(resource_error([] { check_image_pixels(-1, 10, "image 'c.png'"); }), "");
}

TEST(ResourceLimits, DefaultTensorLimitFitsTheMemoryAvailable) {
  const uint64_t limit = resource_limits().max_tensor_bytes;
  EXPECT_GT(limit, 0u);
  EXPECT_LE(limit, kMaxTensorBytes);
  if (std::getenv("QUENCH_MAX_TENSOR_BYTES") == nullptr) {
    EXPECT_LE(limit, available_memory_bytes() / 2 + 1);
  }
}

TEST(ResourceLimits, SizesReadForMessages) {
  EXPECT_EQ(human_size(1023), "1023 bytes");
  EXPECT_EQ(human_size(1536), "1.5 KiB");
  EXPECT_EQ(human_size(uint64_t{3} << 30), "3.0 GiB");
}

}  // namespace
}  // namespace quench

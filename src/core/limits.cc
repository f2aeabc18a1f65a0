#include "quench/limits.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>

#include "core/check.h"
#include "core/resource_check.h"
#include "quench/tensor.h"

namespace quench {
namespace {

constexpr int64_t kDefaultMaxNodes = 1'000'000;
constexpr int64_t kDefaultMaxImagePixels = int64_t{1} << 28;

// "4G", "512M", "1048576": bytes with an optional binary suffix (K, M, G, T).
uint64_t parse_size(const char* variable, const std::string& text) {
  size_t end = 0;
  uint64_t value = 0;
  try {
    value = std::stoull(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  int shift = 0;
  if (end != 0 && end + 1 == text.size()) {
    const std::string_view suffixes = "KMGT";
    const size_t index = suffixes.find(static_cast<char>(std::toupper(text[end])));
    if (index != std::string_view::npos) {
      shift = 10 * static_cast<int>(index + 1);
      ++end;
    }
  }
  QUENCH_CHECK(end != 0 && end == text.size() && text[0] != '-' && value != 0 &&
                   value <= (UINT64_MAX >> shift),
               ErrorKind::kInvalidArgument,
               "{}='{}' is not a positive size (expected a number, optionally followed by K, M, "
               "G or T)",
               variable, text);
  return value << shift;
}

uint64_t env_size(const char* variable, uint64_t fallback) {
  const char* text = std::getenv(variable);
  return text == nullptr || *text == '\0' ? fallback : parse_size(variable, text);
}

uint64_t cgroup_memory_max() {
  std::ifstream in("/sys/fs/cgroup/memory.max");
  std::string text;
  if (!(in >> text) || text == "max") return UINT64_MAX;
  try {
    return std::stoull(text);
  } catch (const std::exception&) {
    return UINT64_MAX;
  }
}

struct Limits {
  std::atomic<uint64_t> tensor_bytes{0};
  std::atomic<int64_t> nodes{0};
  std::atomic<int64_t> image_pixels{0};
};

Limits& limits() {
  static Limits state;
  static std::once_flag once;
  std::call_once(once, [] {
    const uint64_t by_memory = std::min(kMaxTensorBytes, available_memory_bytes() / 2);
    state.tensor_bytes = std::min(kMaxTensorBytes, env_size("QUENCH_MAX_TENSOR_BYTES", by_memory));
    state.nodes = static_cast<int64_t>(std::min<uint64_t>(
        INT64_MAX, env_size("QUENCH_MAX_NODES", static_cast<uint64_t>(kDefaultMaxNodes))));
    state.image_pixels = static_cast<int64_t>(std::min<uint64_t>(
        INT64_MAX,
        env_size("QUENCH_MAX_IMAGE_PIXELS", static_cast<uint64_t>(kDefaultMaxImagePixels))));
  });
  return state;
}

}  // namespace

ResourceLimits resource_limits() {
  const Limits& l = limits();
  return ResourceLimits{l.tensor_bytes.load(), l.nodes.load(), l.image_pixels.load()};
}

ResourceLimits set_resource_limits(const ResourceLimits& next) {
  const ResourceLimits previous = resource_limits();
  Limits& l = limits();
  if (next.max_tensor_bytes != 0) l.tensor_bytes = std::min(kMaxTensorBytes, next.max_tensor_bytes);
  if (next.max_nodes != 0) l.nodes = next.max_nodes;
  if (next.max_image_pixels != 0) l.image_pixels = next.max_image_pixels;
  return previous;
}

uint64_t available_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  uint64_t bytes = pages > 0 && page_size > 0
                       ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                       : UINT64_MAX;
  rlimit address_space{};
  if (getrlimit(RLIMIT_AS, &address_space) == 0 && address_space.rlim_cur != RLIM_INFINITY) {
    bytes = std::min<uint64_t>(bytes, address_space.rlim_cur);
  }
  return std::min(bytes, cgroup_memory_max());
}

std::string human_size(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 5) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, kUnits[unit]);
}

void check_buffer_bytes(uint64_t bytes, std::string_view what) {
  const uint64_t limit = resource_limits().max_tensor_bytes;
  QUENCH_CHECK(bytes <= limit, ErrorKind::kResource,
               "{} needs {} ({} bytes), more than the limit of {} for one buffer (raise it with "
               "QUENCH_MAX_TENSOR_BYTES)",
               what, human_size(bytes), bytes, human_size(limit));
}

void check_tensor_fits(DType dtype, std::span<const int64_t> shape, std::string_view what) {
  // Counted in 128 bits, saturating at 2^100 elements: the product of int64 dims overflows 64
  // bits long before it stops being a size worth reporting.
  unsigned __int128 numel = 1;
  constexpr unsigned __int128 kHuge = static_cast<unsigned __int128>(1) << 100;
  for (int64_t d : shape) {
    QUENCH_CHECK(d >= 0, ErrorKind::kInvalidModel, "{} has a negative dimension: {}", what,
                 shape_str(shape));
    const auto dim = static_cast<uint64_t>(d);
    numel = dim != 0 && numel > kHuge / dim ? kHuge : numel * dim;
  }
  const unsigned __int128 bits = numel * static_cast<unsigned>(dtype_info(dtype).bits);
  const unsigned __int128 bytes = (bits + 7) / 8;
  const uint64_t limit = resource_limits().max_tensor_bytes;
  if (bytes > limit) {
    const std::string size = bytes > static_cast<unsigned __int128>(UINT64_MAX)
                                 ? std::string("more than 16 EiB")
                                 : human_size(static_cast<uint64_t>(bytes));
    fail(ErrorKind::kResource,
         "{} of type {} and shape {} needs {}, more than the limit of {} for one buffer (raise it "
         "with QUENCH_MAX_TENSOR_BYTES)",
         what, dtype_name(dtype), shape_str(shape), size, human_size(limit));
  }
}

void check_node_count(int64_t nodes, std::string_view where) {
  const int64_t limit = resource_limits().max_nodes;
  QUENCH_CHECK(nodes <= limit, ErrorKind::kResource,
               "{} has {} nodes, more than the limit of {} (raise it with QUENCH_MAX_NODES)", where,
               nodes, limit);
}

void check_image_pixels(int64_t width, int64_t height, std::string_view where) {
  const int64_t limit = resource_limits().max_image_pixels;
  // Divided, not multiplied: a PNG header's two 32-bit sizes overflow an int64 product (found by
  // fuzz_image).
  const bool within = width >= 0 && height >= 0 && (height == 0 || width <= limit / height);
  QUENCH_CHECK(within, ErrorKind::kResource,
               "{} is {}x{} pixels, more than the limit of {} (raise it with "
               "QUENCH_MAX_IMAGE_PIXELS)",
               where, width, height, limit);
}

}  // namespace quench

// float_gemv_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file with that
// ISA's flags: the panel loop of PackedFloatGemv (float_gemv.h).
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including float_gemv_impl.h"
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/x86/float_gemv.h"

namespace quench::x86::QUENCH_X86_ISA {
namespace {

// 16 floats: one AVX-512 register, two AVX2 ones, four SSE ones; the compiler picks the
// instructions for the file's flags.
typedef float Vec16 __attribute__((vector_size(64)));
constexpr int64_t kVectors = PackedFloatGemv::kPanel / 16;

void float_gemv_impl(const float* packed_floats, const float* x, int64_t k, int64_t n, float* y) {
  const auto* packed = reinterpret_cast<const Vec16*>(packed_floats);
  for (int64_t column = 0; column < n; column += PackedFloatGemv::kPanel) {
    // Four independent accumulators hide the add latency.
    Vec16 s0 = {}, s1 = {}, s2 = {}, s3 = {};
    for (int64_t depth = 0; depth < k; ++depth) {
      const float scale = x[depth];
      s0 += scale * packed[0];
      s1 += scale * packed[1];
      s2 += scale * packed[2];
      s3 += scale * packed[3];
      packed += kVectors;
    }
    alignas(64) Vec16 sum[kVectors] = {s0, s1, s2, s3};
    const int64_t width = std::min(PackedFloatGemv::kPanel, n - column);
    std::memcpy(y + column, sum, static_cast<size_t>(width) * sizeof(float));
  }
}

}  // namespace

FloatGemvLoop float_gemv_loop() { return float_gemv_impl; }

}  // namespace quench::x86::QUENCH_X86_ISA

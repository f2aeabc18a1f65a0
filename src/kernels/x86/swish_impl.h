// swish_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file with that ISA's
// flags; everything here lives in that namespace (the vector type and exp: vector_exp_impl.h).
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including swish_impl.h"
#endif

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/vector_exp_impl.h"

namespace quench::x86::QUENCH_X86_ISA {
namespace {

// Eq. (164): e = exp(−|x|) in (0, 1] (eq. (153)), sigmoid(x) = 1 / (1 + e) for x ≥ 0 and
// e / (1 + e) for x < 0, times x. A NaN stays NaN; x = +inf gives +inf, x = −inf NaN, as the
// reference's x / (1 + exp(−x)) does.
// 1 / d for d in [1, 2]: AVX-512's 14-bit reciprocal and one Newton step (relative error about
// 2^−28 before rounding, within eq. (164)'s bound), since vdivps bounded the loop (one 512-bit
// division per 5-6 cycles on Zen 4); a division elsewhere.
inline Vec reciprocal(Vec d) {
#if defined(__AVX512F__)
  // (The zero-masking form: GCC 12 warns that the plain one's undefined pass-through may be used.)
  const Vec r = reinterpret_cast<Vec>(_mm512_maskz_rcp14_ps(0xFFFF, reinterpret_cast<__m512>(d)));
  return fma(fma(-d, r, splat(1.f)), r, r);
#else
  return 1.f / d;
#endif
}

inline Vec swish_vector(Vec x) {
  const Vec minus_abs = x < 0.f ? x : -x;
  const Vec e = exp_approx(minus_abs);
  return x * ((x < 0.f ? e : splat(1.f)) * reciprocal(1.f + e));
}

}  // namespace

inline void swish_impl(const float* x, float* y, int64_t count) {
  int64_t i = 0;
  for (; i + kLanes <= count; i += kLanes) store(y + i, swish_vector(load(x + i)));
  if (i < count) {
    float tail[kLanes] = {};
    const auto bytes = static_cast<size_t>(count - i) * sizeof(float);
    std::memcpy(tail, x + i, bytes);
    store(tail, swish_vector(load(tail)));
    std::memcpy(y + i, tail, bytes);
  }
}

}  // namespace quench::x86::QUENCH_X86_ISA

// vector_exp_impl.h: the vector type of one register and eq. (153)'s exp, for the loops compiled
// once per instruction set (softmax_impl.h, swish_impl.h). The including file defines
// QUENCH_X86_ISA (the namespace) and is compiled with that ISA's flags; everything here lives in an
// anonymous namespace inside it. GCC vector types of one register: 16 floats with AVX-512, 8 with
// AVX2, 4 with SSE (wider types than the ISA's registers compile poorly).
#pragma once

#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including vector_exp_impl.h"
#endif

#include <immintrin.h>

#include <bit>
#include <cstdint>
#include <cstring>

namespace quench::x86::QUENCH_X86_ISA {
namespace {

#if defined(__AVX512F__)
typedef float Vec __attribute__((vector_size(64)));
typedef int32_t IntVec __attribute__((vector_size(64)));
#elif defined(__AVX2__)
typedef float Vec __attribute__((vector_size(32)));
typedef int32_t IntVec __attribute__((vector_size(32)));
#else
typedef float Vec __attribute__((vector_size(16)));
typedef int32_t IntVec __attribute__((vector_size(16)));
#endif
constexpr int64_t kLanes = sizeof(Vec) / sizeof(float);

inline Vec splat(float v) { return Vec{} + v; }

inline Vec load(const float* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

inline void store(float* p, Vec v) { std::memcpy(p, &v, sizeof(v)); }

inline Vec vmax(Vec a, Vec b) { return a > b ? a : b; }

// exp(x) for x ≤ 0 (the softmax's arguments) by eq. (153): x = n·ln 2 + r with n = round(x·log2 e)
// and |r| ≤ ln 2 / 2, exp(r) by Cephes's degree-5 polynomial, times 2^n. Below ln(2^−125) the
// result is 0 (an absolute error under 2^−125; exp of −inf included), so no result is subnormal
// (each would cost a microcode assist); NaN stays NaN.
constexpr float kLowest = -86.64339757f;  // ln(2^−125)
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2High = 0.693359375f;  // ln 2 in two parts: n·kLn2High is exact
constexpr float kLn2Low = -2.12194440e-4f;
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

// a·b + c, fused where the ISA has it (the project otherwise builds with -ffp-contract=off).
inline Vec fma(Vec a, Vec b, Vec c) {
#if defined(__AVX512F__)
  return reinterpret_cast<Vec>(_mm512_fmadd_ps(
      reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b), reinterpret_cast<__m512>(c)));
#elif defined(__FMA__)
  return reinterpret_cast<Vec>(_mm256_fmadd_ps(
      reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b), reinterpret_cast<__m256>(c)));
#else
  return a * b + c;
#endif
}

inline Vec exp_approx(Vec x) {
  const IntVec underflow = x < kLowest;
  x = x < kLowest ? splat(kLowest) : x;
  // Adding 1.5·2^23 rounds x·log2 e to an integer in the low mantissa bits.
  constexpr float kRound = 12582912.f;
  const Vec t = fma(x, splat(kLog2e), splat(kRound));
  const Vec n = t - kRound;
  Vec r = fma(n, splat(-kLn2High), x);
  r = fma(n, splat(-kLn2Low), r);
  Vec p = splat(kP0);
  p = fma(p, r, splat(kP1));
  p = fma(p, r, splat(kP2));
  p = fma(p, r, splat(kP3));
  p = fma(p, r, splat(kP4));
  p = fma(p, r, splat(kP5));
  p = fma(p, r * r, r) + 1.f;
  // t's bits are those of 1.5·2^23 plus n: shifted up 23 bits only n remains, in the exponent.
  const IntVec exponent = (std::bit_cast<IntVec>(t) << 23) + (127 << 23);
  const Vec result = p * std::bit_cast<Vec>(exponent);
  return underflow ? splat(0.f) : result;
}

}  // namespace
}  // namespace quench::x86::QUENCH_X86_ISA

// erf_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file with that ISA's
// flags; everything here lives in that namespace. A plain loop the compiler vectorizes.
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including erf_impl.h"
#endif

#include <algorithm>
#include <cstdint>

namespace quench::x86::QUENCH_X86_ISA {
namespace {

// erf(x) ≈ x·α(x²)/β(x²) on x clamped to [−4, 4] (eq. (139)): beyond 4, erf rounds to ±1 in
// float. NaN stays NaN (the clamps pass it through), ±0 keeps its sign.
inline float erf_approx(float x) {
  x = std::min(std::max(x, -4.f), 4.f);
  const float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 - 2.10102402082508e-06f;
  p = p * x2 - 5.69250639462346e-05f;
  p = p * x2 - 7.34990630326855e-04f;
  p = p * x2 - 2.95459980854025e-03f;
  p = p * x2 - 1.60960333262415e-02f;
  float q = -1.45660718464996e-05f;
  q = q * x2 - 2.13374055278905e-04f;
  q = q * x2 - 1.68282697438203e-03f;
  q = q * x2 - 7.37332916720468e-03f;
  q = q * x2 - 1.42647390514189e-02f;
  // The rational function overshoots 1 by an ulp near |x| = 4: erf's range is [−1, 1].
  return std::min(std::max(x * p / q, -1.f), 1.f);
}

}  // namespace

inline void erf_loop_impl(const float* x, float* y, int64_t count) {
  for (int64_t i = 0; i < count; ++i) y[i] = erf_approx(x[i]);
}

}  // namespace quench::x86::QUENCH_X86_ISA

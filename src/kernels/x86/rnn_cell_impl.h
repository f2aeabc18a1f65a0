// The recurrent cells' element-wise math (rnn_cell.h), compiled once per instruction set:
// rnn_cell_<isa>.cc defines QUENCH_X86_ISA (the namespace) and includes this file with that ISA's
// flags; everything here lives in that namespace. Plain loops the compiler vectorizes.
#ifndef QUENCH_X86_ISA
#error "define QUENCH_X86_ISA (the instruction set's namespace) before including rnn_cell_impl.h"
#endif

#include "kernels/x86/rnn_cell.h"

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/ref/rnn.h"

namespace quench::x86::QUENCH_X86_ISA {
namespace {

// a·b + c: one rounding where the instruction set has fused multiply-adds (AVX2 with FMA,
// AVX-512), two on the baseline (the project builds with -ffp-contract=off, so only this helper
// fuses). The approximations below are evaluated with it: AVX2 and AVX-512 give the same floats,
// the baseline ones within an ulp or two of theirs.
inline float mul_add(float a, float b, float c) {
#ifdef __FMA__
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// e^x for x in [-87.3, 88] (clamped there: the result stays a normal float), Cephes' expf:
// x = n ln2 + r with |r| <= ln2 / 2, e^r by a degree-7 polynomial, 2^n by the exponent bits.
// Plain arithmetic, so loops over it vectorize.
inline float exp_approx(float x) {
  x = std::min(std::max(x, -87.33654f), 88.f);
  // Round to nearest by the 1.5 * 2^23 shift (exact: |x log2 e| < 2^22).
  constexpr float kShift = 12582912.f;
  const float n = mul_add(x, 1.44269504088896341f, kShift) - kShift;
  // ln 2 in two parts so that n * ln2_hi is exact.
  float r = mul_add(n, -0.693359375f, x);
  r = mul_add(n, 2.12194440e-4f, r);
  float p = 1.9875691500e-4f;
  p = mul_add(p, r, 1.3981999507e-3f);
  p = mul_add(p, r, 8.3334519073e-3f);
  p = mul_add(p, r, 4.1665795894e-2f);
  p = mul_add(p, r, 1.6666665459e-1f);
  p = mul_add(p, r, 5.0000001201e-1f);
  p = mul_add(p, r * r, r) + 1.f;
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  return p * scale;
}

inline float sigmoid_approx(float x) { return 1.f / (1.f + exp_approx(-x)); }

// tanh as the odd rational minimax p(x)/q(x) of degrees 13/6 used by Eigen and MLAS, on
// [-7.9053, 7.9053] beyond which tanh rounds to +-1. Keeps full relative accuracy near 0.
inline float tanh_approx(float x) {
  constexpr float kBound = 7.90531110763549805f;
  x = std::min(std::max(x, -kBound), kBound);
  const float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = mul_add(p, x2, 2.00018790482477e-13f);
  p = mul_add(p, x2, -8.60467152213735e-11f);
  p = mul_add(p, x2, 5.12229709037114e-08f);
  p = mul_add(p, x2, 1.48572235717979e-05f);
  p = mul_add(p, x2, 6.37261928875436e-04f);
  p = mul_add(p, x2, 4.89352455891786e-03f);
  float q = 1.19825839466702e-06f;
  q = mul_add(q, x2, 1.18534705686654e-04f);
  q = mul_add(q, x2, 2.26843463243900e-03f);
  q = mul_add(q, x2, 4.89352518554385e-03f);
  return x * p / q;
}

void clip(const CellMath& m, float* x, int64_t n) {
  if (std::isinf(m.clip)) return;
  for (int64_t i = 0; i < n; ++i) x[i] = std::min(std::max(x[i], -m.clip), m.clip);
}

}  // namespace

inline void activate(const RnnActivation& activation, float* x, int64_t n) {
  switch (activation.kind) {
    case RnnActivationKind::kSigmoid:
      for (int64_t i = 0; i < n; ++i) x[i] = sigmoid_approx(x[i]);
      return;
    case RnnActivationKind::kTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = tanh_approx(x[i]);
      return;
    default:
      for (int64_t i = 0; i < n; ++i) x[i] = ref::apply_activation(activation, x[i]);
  }
}

inline void rnn_row(const CellMath& m, const float* xw, float* gates, float* h) {
  const int64_t hidden = m.hidden;
  for (int64_t unit = 0; unit < hidden; ++unit) gates[unit] += xw[unit];
  clip(m, gates, hidden);
  activate(m.f, gates, hidden);
  std::copy(gates, gates + hidden, h);
}

inline void gru_gates_row(const CellMath& m, const float* xw, float* gates, const float* h,
                          float* reset_h) {
  const int64_t rows = 2 * m.hidden;
  for (int64_t row = 0; row < rows; ++row) gates[row] += xw[row];
  clip(m, gates, rows);
  activate(m.f, gates, rows);
  if (reset_h == nullptr) return;
  const float* reset = gates + m.hidden;
  for (int64_t unit = 0; unit < m.hidden; ++unit) reset_h[unit] = reset[unit] * h[unit];
}

inline void gru_update_row(const CellMath& m, const float* xw, float* recurrent,
                           const float* update, const float* reset, const float* rbh, float* h) {
  const int64_t hidden = m.hidden;
  float* candidate = recurrent;
  if (reset != nullptr) {
    for (int64_t unit = 0; unit < hidden; ++unit) {
      candidate[unit] = xw[unit] + reset[unit] * (recurrent[unit] + rbh[unit]);
    }
  } else {
    for (int64_t unit = 0; unit < hidden; ++unit) candidate[unit] = xw[unit] + recurrent[unit];
  }
  clip(m, candidate, hidden);
  activate(m.g, candidate, hidden);
  for (int64_t unit = 0; unit < hidden; ++unit) {
    h[unit] = (1.f - update[unit]) * candidate[unit] + update[unit] * h[unit];
  }
}

inline void lstm_row(const CellMath& m, const float* xw, const float* peephole, float* gates,
                     float* h, float* c) {
  // One simple loop per step below: each vectorizes on its own and its iterations overlap. A
  // single pass doing all five activations per unit, keeping every intermediate in registers, was
  // about 25% slower on an AVX-512 Xeon (the dynamic LSTM at batch 1: 153 -> 118 us).
  const int64_t hidden = m.hidden;
  float* input_gate = gates;
  float* output_gate = gates + hidden;
  float* forget_gate = gates + 2 * hidden;
  float* cell_gate = gates + 3 * hidden;
  const float* xw_i = xw;
  const float* xw_o = xw + hidden;
  const float* xw_f = xw + 2 * hidden;
  const float* xw_c = xw + 3 * hidden;
  // i, f and c first: o's peephole reads the new cell state.
  if (peephole != nullptr) {
    const float* peephole_i = peephole;
    const float* peephole_f = peephole + 2 * hidden;
    for (int64_t unit = 0; unit < hidden; ++unit) {
      input_gate[unit] += xw_i[unit] + peephole_i[unit] * c[unit];
      forget_gate[unit] += xw_f[unit] + peephole_f[unit] * c[unit];
    }
  } else {
    for (int64_t unit = 0; unit < hidden; ++unit) {
      input_gate[unit] += xw_i[unit];
      forget_gate[unit] += xw_f[unit];
    }
  }
  for (int64_t unit = 0; unit < hidden; ++unit) cell_gate[unit] += xw_c[unit];
  clip(m, input_gate, hidden);
  clip(m, forget_gate, hidden);
  clip(m, cell_gate, hidden);
  activate(m.f, input_gate, hidden);
  if (m.input_forget) {
    for (int64_t unit = 0; unit < hidden; ++unit) forget_gate[unit] = 1.f - input_gate[unit];
  } else {
    activate(m.f, forget_gate, hidden);
  }
  activate(m.g, cell_gate, hidden);
  for (int64_t unit = 0; unit < hidden; ++unit) {
    c[unit] = forget_gate[unit] * c[unit] + input_gate[unit] * cell_gate[unit];
  }
  if (peephole != nullptr) {
    const float* peephole_o = peephole + hidden;
    for (int64_t unit = 0; unit < hidden; ++unit) {
      output_gate[unit] += xw_o[unit] + peephole_o[unit] * c[unit];
    }
  } else {
    for (int64_t unit = 0; unit < hidden; ++unit) output_gate[unit] += xw_o[unit];
  }
  clip(m, output_gate, hidden);
  activate(m.f, output_gate, hidden);
  // h() takes the cell state unclipped, as the reference does; cell_gate is free again.
  float* cell_output = cell_gate;
  std::copy(c, c + hidden, cell_output);
  activate(m.h, cell_output, hidden);
  for (int64_t unit = 0; unit < hidden; ++unit) h[unit] = output_gate[unit] * cell_output[unit];
}

// The cells of this ISA, for rnn_cell.cc to dispatch to.
inline void integer_gates(const int32_t* x_acc, const float* x_multiplier, const int32_t* h_acc,
                          const float* h_multiplier, int64_t n, float* gates) {
  if (x_acc == nullptr) {
    for (int64_t i = 0; i < n; ++i) gates[i] = static_cast<float>(h_acc[i]) * h_multiplier[i];
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const float g_x = static_cast<float>(x_acc[i]) * x_multiplier[i];
    gates[i] = g_x + static_cast<float>(h_acc[i]) * h_multiplier[i];
  }
}

inline CellFunctions table() {
  return CellFunctions{activate, rnn_row, gru_gates_row, gru_update_row, lstm_row, integer_gates};
}

}  // namespace quench::x86::QUENCH_X86_ISA

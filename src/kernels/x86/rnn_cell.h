// Element-wise part of one time step of RNN, GRU and LSTM for one batch row, once the recurrent
// products H·Rᵀ are known: bias and input projection added, clip, activations, state update.
// Same equations as the reference kernel (kernels/ref/rnn.cc); Sigmoid and Tanh use vectorizable
// approximations (within 3 and 6 float ulps of the exact values over [-100, 100]: measured 2.1 and
// 4.2 where the ISA fuses their multiply-adds, AVX2 and AVX-512, 2.4 and 5.1 on the baseline;
// tests/unit/x86_isa_variants_test.cc), every other activation the reference's function.
#pragma once

#include <cstdint>
#include <limits>

#include "kernels/ref/rnn_attributes.h"

namespace quench::x86 {

// The gate math of one direction. Gate blocks of `hidden` floats are in ONNX order: RNN (one),
// GRU (z, r, h), LSTM (i, o, f, c). `xw` rows hold X·Wᵀ plus the fused bias of every gate
// (Wb + Rb, except Wb alone for GRU's h gate with linear_before_reset).
struct CellMath {
  int64_t hidden = 0;
  float clip = std::numeric_limits<float>::infinity();
  RnnActivation f, g, h;  // as RnnAttributes::activations (g: GRU and LSTM, h: LSTM)
  bool input_forget = false;
};

// f(x) in place over n floats; fast paths for Sigmoid and Tanh.
void activate(const RnnActivation& activation, float* x, int64_t n);

// Ht = f(clip(xw + gates)). `gates` (H·Rᵀ) is clobbered.
void rnn_row(const CellMath& m, const float* xw, float* gates, float* h);

// GRU, first half: gates[z, r] (H·R[zr]ᵀ on entry) become zt and rt. With `reset_h` (for
// linear_before_reset = 0) also writes rt (.) Ht-1 there, the operand of the second product.
void gru_gates_row(const CellMath& m, const float* xw, float* gates, const float* h,
                   float* reset_h);

// GRU, second half: `recurrent` is (rt (.) Ht-1)·Rhᵀ (linear_before_reset = 0, `reset` nullptr)
// or Ht-1·Rhᵀ (linear_before_reset = 1: rt (.) (recurrent + rbh) is taken here); `xw` points at
// the h gate's projection. Updates h; `recurrent` is clobbered.
void gru_update_row(const CellMath& m, const float* xw, float* recurrent, const float* update,
                    const float* reset, const float* rbh, float* h);

// LSTM: `gates` (H·Rᵀ on entry, clobbered), `peephole` [i, o, f] blocks or nullptr; updates h
// and c.
void lstm_row(const CellMath& m, const float* xw, const float* peephole, float* gates, float* h,
              float* c);

// The gates of an integer (dynamically quantized) step from its exact sums (eq. (44)):
// gates[i] = float(x_acc[i])·x_multiplier[i] + float(h_acc[i])·h_multiplier[i], the two products
// rounded and then added, in the reference's order; without x_acc (nullptr) the second product
// alone.
void integer_gates(const int32_t* x_acc, const float* x_multiplier, const int32_t* h_acc,
                   const float* h_multiplier, int64_t n, float* gates);

// The six functions above, as one instruction set implements them (rnn_cell_impl.h); the
// functions above call the CPU's best.
struct CellFunctions {
  void (*activate)(const RnnActivation&, float*, int64_t);
  void (*rnn_row)(const CellMath&, const float*, float*, float*);
  void (*gru_gates_row)(const CellMath&, const float*, float*, const float*, float*);
  void (*gru_update_row)(const CellMath&, const float*, float*, const float*, const float*,
                         const float*, float*);
  void (*lstm_row)(const CellMath&, const float*, const float*, float*, float*, float*);
  void (*integer_gates)(const int32_t*, const float*, const int32_t*, const float*, int64_t,
                        float*);
};

}  // namespace quench::x86

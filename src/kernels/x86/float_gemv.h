// y = x·Bᵀ for one float row x and constant B, the recurrent product of an FP32 RNN, GRU or LSTM
// at batch 1 (onednn/rnn.cc). At one row the product streams B from L1/L2 once per time step,
// where a oneDNN matmul call costs more than its arithmetic. The loop (float_gemv_impl.h) is
// compiled for AVX-512, AVX2 and the baseline and chosen once per process for the CPU; every
// variant adds in the same order, so all give the same floats.
#pragma once

#include <cstdint>

#include "quench/tensor.h"

namespace quench::x86 {

class PackedFloatGemv {
 public:
  static constexpr int64_t kPanel = 64;  // output columns per panel: four 16-float vectors

  // `b`: n rows of k floats (rows of W or R), packed once as [panels, k, kPanel], the columns past
  // n zeros.
  PackedFloatGemv(const float* b, int64_t n, int64_t k);

  // y [n] = x [k] · Bᵀ: for each column Σ_depth x[depth]·B[column][depth], in depth order, with
  // separate multiplies and adds. x and y may not overlap.
  void multiply(const float* x, float* y) const;

 private:
  int64_t n_, k_;
  Tensor packed_;  // Tensor storage is 64-byte aligned
};

// The loop over packed panels, per instruction set.
using FloatGemvLoop = void (*)(const float* packed, const float* x, int64_t k, int64_t n, float* y);
namespace baseline {
FloatGemvLoop float_gemv_loop();
}
namespace avx2 {
FloatGemvLoop float_gemv_loop();
}
namespace avx512 {
FloatGemvLoop float_gemv_loop();
}

}  // namespace quench::x86

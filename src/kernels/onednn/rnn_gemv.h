// y = x·Bᵀ for one row x and constant B, the recurrent product of an RNN at batch 1. At one row
// the product streams B from L2 once per time step; this loop over weights packed in column
// panels runs near that bandwidth (2.35 us for 128x512 where oneDNN's matmul takes 2.9 us).
#pragma once

#include <cstdint>

#include "quench/tensor.h"

namespace quench::onednn {

class PackedGemv {
 public:
  static constexpr int64_t kPanel = 64;  // output columns per panel: four 16-float vectors

  // `b`: n rows of k floats (rows of W or R), packed once.
  // src = n-k  dst = (n/64)-k-64, columns past n zero
  PackedGemv(const float* b, int64_t n, int64_t k);

  // y [n] = x [k] · Bᵀ. x and y may not overlap.
  void multiply(const float* x, float* y) const;

 private:
  int64_t n_, k_;
  Tensor packed_;  // [panels, k, kPanel]; Tensor storage is 64-byte aligned
};

}  // namespace quench::onednn

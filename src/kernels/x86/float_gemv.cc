#include "kernels/x86/float_gemv.h"

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {
namespace {

FloatGemvLoop chosen_loop() {
  static const FloatGemvLoop chosen = cpu_features().avx512 ? avx512::float_gemv_loop()
                                      : cpu_features().avx2 ? avx2::float_gemv_loop()
                                                            : baseline::float_gemv_loop();
  return chosen;
}

}  // namespace

PackedFloatGemv::PackedFloatGemv(const float* b, int64_t n, int64_t k) : n_(n), k_(k) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  packed_ = Tensor::zeros(DType::kFloat32, {panels, k, kPanel});
  float* to = packed_.data<float>();
  for (int64_t column = 0; column < n; ++column) {
    const int64_t panel = column / kPanel, lane = column % kPanel;
    for (int64_t depth = 0; depth < k; ++depth) {
      to[(panel * k + depth) * kPanel + lane] = b[column * k + depth];
    }
  }
}

void PackedFloatGemv::multiply(const float* x, float* y) const {
  chosen_loop()(packed_.data<float>(), x, k_, n_, y);
}

}  // namespace quench::x86

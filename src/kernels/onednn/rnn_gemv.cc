#include "kernels/onednn/rnn_gemv.h"

#include <algorithm>
#include <cstring>

namespace quench::onednn {
namespace {

// One AVX-512 register (two or four narrower ones elsewhere); the compiler picks the instructions.
typedef float Vec16 __attribute__((vector_size(64)));
constexpr int64_t kVectors = PackedGemv::kPanel / 16;

}  // namespace

PackedGemv::PackedGemv(const float* b, int64_t n, int64_t k) : n_(n), k_(k) {
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

void PackedGemv::multiply(const float* x, float* y) const {
  const auto* packed = reinterpret_cast<const Vec16*>(packed_.data<float>());
  for (int64_t column = 0; column < n_; column += kPanel) {
    // Four independent accumulators hide the FMA latency.
    Vec16 sum[kVectors] = {};
    for (int64_t depth = 0; depth < k_; ++depth) {
      const float scale = x[depth];
      for (int64_t v = 0; v < kVectors; ++v) sum[v] += scale * packed[v];
      packed += kVectors;
    }
    const int64_t width = std::min(kPanel, n_ - column);
    std::memcpy(y + column, sum, width * sizeof(float));
  }
}

}  // namespace quench::onednn

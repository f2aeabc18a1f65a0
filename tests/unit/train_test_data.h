// A tiny labeled dataset for the training-loop tests (train_loop_test.cc,
// train_checkpoint_test.cc).
#pragma once

#include <cstdint>
#include <random>

#include "quench/data.h"

namespace quench::train {

// 64 samples [1, 2, 2], label i % 2 (plus `labels_offset`). Class 0: first pixel high; class 1:
// last pixel high (plus noise).
class Separable : public Dataset {
 public:
  explicit Separable(int64_t labels_offset = 0) : offset_(labels_offset) {}
  int64_t size() const override { return 64; }
  Shape sample_shape() const override { return {1, 2, 2}; }
  bool has_labels() const override { return true; }
  Batch batch(int64_t start, int64_t count) const override {
    Batch b;
    Tensor x = Tensor::zeros(DType::kFloat32, {count, 1, 2, 2});
    std::mt19937 rng(static_cast<uint32_t>(start));
    std::uniform_real_distribution<float> noise(-0.1f, 0.1f);
    for (int64_t i = 0; i < count; ++i) {
      const int64_t label = (start + i) % 2;
      for (int p = 0; p < 4; ++p) x.data<float>()[i * 4 + p] = noise(rng);
      x.data<float>()[i * 4 + (label == 0 ? 0 : 3)] += 1.0f;
      b.labels.push_back(label + offset_);
    }
    b.inputs.push_back(x);
    return b;
  }

 private:
  int64_t offset_;
};

}  // namespace quench::train

// A quench::Dataset over samples held in memory: NumPy arrays [N, sample...] (one per model input,
// or one unnamed array for a single-input model) and optional labels, for calibration and
// evaluation data given from Python.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quench/data.h"

namespace quench::py {

class ArrayDataset : public Dataset {
 public:
  struct Input {
    std::string name;  // the model input it feeds; empty: the model's only input
    Tensor samples;    // [N, sample...], float32 or int64, C-contiguous
  };
  // Every input holds the same N > 0 samples; `labels` empty or N values. The inputs' memory must
  // outlive the dataset.
  ArrayDataset(std::vector<Input> inputs, std::vector<int64_t> labels);

  int64_t size() const override { return inputs_[0].samples.dim(0); }
  Shape sample_shape() const override;
  std::vector<DataInput> inputs() const override;
  bool has_labels() const override { return !labels_.empty(); }
  // Views of the rows (no copy).
  Batch batch(int64_t start, int64_t count) const override;

 private:
  std::vector<Input> inputs_;
  std::vector<int64_t> labels_;
};

}  // namespace quench::py

// A quench::Dataset over samples held in memory (a NumPy array [N, sample...] and optional labels),
// for calibration and evaluation data given from Python.
#pragma once

#include <cstdint>
#include <vector>

#include "quench/data.h"

namespace quench::py {

class ArrayDataset : public Dataset {
 public:
  // `samples` [N, sample...] float32, C-contiguous; `labels` empty or N values. The memory of
  // `samples` must outlive the dataset.
  ArrayDataset(Tensor samples, std::vector<int64_t> labels);

  int64_t size() const override { return samples_.dim(0); }
  Shape sample_shape() const override;
  bool has_labels() const override { return !labels_.empty(); }
  // A view of the rows (no copy).
  Batch batch(int64_t start, int64_t count) const override;

 private:
  Tensor samples_;
  std::vector<int64_t> labels_;
};

}  // namespace quench::py

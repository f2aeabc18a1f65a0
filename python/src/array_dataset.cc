#include "array_dataset.h"

#include <fmt/format.h>

#include <algorithm>

namespace quench::py {

ArrayDataset::ArrayDataset(Tensor samples, std::vector<int64_t> labels)
    : samples_(std::move(samples)), labels_(std::move(labels)) {
  if (samples_.rank() < 1 || samples_.dim(0) == 0) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("data: expected samples [N, ...] with N > 0, got shape {}",
                            shape_str(samples_.shape())));
  }
  if (!labels_.empty() && static_cast<int64_t>(labels_.size()) != samples_.dim(0)) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("data: {} labels for {} samples", labels_.size(), samples_.dim(0)));
  }
}

Shape ArrayDataset::sample_shape() const {
  return Shape(samples_.shape().begin() + 1, samples_.shape().end());
}

Batch ArrayDataset::batch(int64_t start, int64_t count) const {
  count = std::max<int64_t>(0, std::min(count, size() - start));
  Shape shape = samples_.shape();
  shape[0] = count;
  const int64_t row = shape_numel(sample_shape());
  auto* base = static_cast<uint8_t*>(const_cast<void*>(samples_.raw_data()));
  Batch b;
  b.inputs.push_back(Tensor::wrap(samples_.dtype(), shape,
                                  base + storage_bytes(samples_.dtype(), start * row),
                                  samples_.storage()));
  if (has_labels()) b.labels.assign(labels_.begin() + start, labels_.begin() + start + count);
  return b;
}

}  // namespace quench::py

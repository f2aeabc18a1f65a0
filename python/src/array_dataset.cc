#include "array_dataset.h"

#include <fmt/format.h>

#include <algorithm>

namespace quench::py {
namespace {

std::string input_label(const ArrayDataset::Input& in) {
  return in.name.empty() ? std::string("data") : fmt::format("data['{}']", in.name);
}

}  // namespace

ArrayDataset::ArrayDataset(std::vector<Input> inputs, std::vector<int64_t> labels)
    : inputs_(std::move(inputs)), labels_(std::move(labels)) {
  if (inputs_.empty()) {
    throw Error(ErrorKind::kInvalidArgument, "data: no input arrays given");
  }
  for (const Input& in : inputs_) {
    const Tensor& s = in.samples;
    if (s.rank() < 1 || s.dim(0) == 0) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{}: expected samples [N, ...] with N > 0, got shape {}",
                              input_label(in), shape_str(s.shape())));
    }
    if (s.dim(0) != size()) {
      throw Error(ErrorKind::kInvalidArgument,
                  fmt::format("{}: {} samples, but {} has {} (every input needs one row per "
                              "sample)",
                              input_label(in), s.dim(0), input_label(inputs_[0]), size()));
    }
  }
  if (!labels_.empty() && static_cast<int64_t>(labels_.size()) != size()) {
    throw Error(ErrorKind::kInvalidArgument,
                fmt::format("data: {} labels for {} samples", labels_.size(), size()));
  }
}

Shape ArrayDataset::sample_shape() const {
  const Shape& shape = inputs_[0].samples.shape();
  return Shape(shape.begin() + 1, shape.end());
}

std::vector<DataInput> ArrayDataset::inputs() const {
  std::vector<DataInput> out;
  for (const Input& in : inputs_) {
    const Shape& shape = in.samples.shape();
    out.push_back({in.name, in.samples.dtype(), Shape(shape.begin() + 1, shape.end())});
  }
  return out;
}

Batch ArrayDataset::batch(int64_t start, int64_t count) const {
  count = std::max<int64_t>(0, std::min(count, size() - start));
  Batch b;
  for (const Input& in : inputs_) {
    const Tensor& s = in.samples;
    Shape shape = s.shape();
    shape[0] = count;
    const int64_t row = shape_numel(Shape(shape.begin() + 1, shape.end()));
    auto* base = static_cast<uint8_t*>(const_cast<void*>(s.raw_data()));
    b.inputs.push_back(
        Tensor::wrap(s.dtype(), shape, base + storage_bytes(s.dtype(), start * row), s.storage()));
  }
  if (has_labels()) b.labels.assign(labels_.begin() + start, labels_.begin() + start + count);
  return b;
}

}  // namespace quench::py

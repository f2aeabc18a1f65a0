// Named arrays, one per model input (npy:NAME=FILE.npy,...): rows read per batch; floats become
// float32 and integers int64, whatever their stored width (the model input's type is matched
// when a batch is fed).
#include <algorithm>

#include "core/check.h"
#include "data/sources.h"

namespace quench {
namespace {

class NamedArraysDataset final : public Dataset {
 public:
  NamedArraysDataset(std::vector<std::pair<std::string, StoredArray>> arrays,
                     std::optional<StoredArray> labels, const std::string& source)
      : arrays_(std::move(arrays)) {
    QUENCH_CHECK(!arrays_.empty(), ErrorKind::kInvalidArgument, "{}: no arrays", source);
    for (const auto& [name, array] : arrays_) {
      const DType stored = array.format().dtype;
      QUENCH_CHECK(!array.shape().empty(), ErrorKind::kInvalidArgument,
                   "{}: array '{}' ({}) is a scalar; expected [N, ...]", source, name,
                   array.path());
      QUENCH_CHECK(array.rows() == arrays_[0].second.rows(), ErrorKind::kInvalidArgument,
                   "{}: array '{}' has {} rows, array '{}' {}; every array needs one row per "
                   "sample",
                   source, name, array.rows(), arrays_[0].first, arrays_[0].second.rows());
      const bool is_float = dtype_info(stored).is_float;
      QUENCH_CHECK(is_float ? image_dtype_ok(stored) : label_dtype_ok(stored),
                   ErrorKind::kInvalidArgument, "{}: array '{}' holds {}, which cannot be fed",
                   source, name, dtype_name(stored));
      inputs_.push_back(DataInput{name, is_float ? DType::kFloat32 : DType::kInt64,
                                  Shape(array.shape().begin() + 1, array.shape().end())});
    }
    if (labels) {
      QUENCH_CHECK(labels->rows() == size(), ErrorKind::kInvalidArgument,
                   "{}: {} labels for {} samples", source, labels->rows(), size());
      labels_ = labels->read_all_int64("labels");
      has_labels_ = true;
    }
  }

  int64_t size() const override { return arrays_[0].second.rows(); }
  Shape sample_shape() const override { return inputs_[0].sample_shape; }
  std::vector<DataInput> inputs() const override { return inputs_; }
  bool has_labels() const override { return has_labels_; }

  Batch batch(int64_t start, int64_t count) const override {
    check_batch_range(start, count, size());
    Batch batch;
    std::vector<unsigned char> raw;
    for (size_t i = 0; i < arrays_.size(); ++i) {
      const StoredArray& array = arrays_[i].second;
      Shape shape = inputs_[i].sample_shape;
      shape.insert(shape.begin(), count);
      Tensor t = Tensor::empty(inputs_[i].dtype, shape);
      raw.resize(static_cast<size_t>(count) * array.row_bytes());
      array.read_rows(start, count, raw.data());
      const int64_t elements = t.numel();
      if (inputs_[i].dtype == DType::kFloat32) {
        convert_to_float(raw.data(), elements, array.format(), 1.f, t.data<float>());
      } else {
        convert_to_int64(raw.data(), elements, array.format(), t.data<int64_t>());
      }
      batch.inputs.push_back(std::move(t));
    }
    if (has_labels_) batch.labels.assign(labels_.begin() + start, labels_.begin() + start + count);
    return batch;
  }

 private:
  std::vector<std::pair<std::string, StoredArray>> arrays_;
  std::vector<DataInput> inputs_;
  std::vector<int64_t> labels_;
  bool has_labels_ = false;
};

}  // namespace

std::unique_ptr<Dataset> make_named_arrays_dataset(
    std::vector<std::pair<std::string, StoredArray>> arrays, std::optional<StoredArray> labels,
    const std::string& source) {
  return std::make_unique<NamedArraysDataset>(std::move(arrays), std::move(labels), source);
}

}  // namespace quench

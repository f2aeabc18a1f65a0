// Datasets over stored arrays (IDX, npy) and generated noise.
#include <algorithm>

#include "core/check.h"
#include "data/sources.h"
#include "data/transform.h"

namespace quench {
namespace {

// Raw bytes read per step, so that large samples do not need a whole batch of raw copies.
constexpr uint64_t kChunkBytes = uint64_t{16} << 20;

// [N,H,W] is a set of single-channel images; other ranks keep their sample shape.
Shape sample_shape_of(const Shape& stored) {
  if (stored.size() == 3) return {1, stored[1], stored[2]};
  return Shape(stored.begin() + 1, stored.end());
}

class ArrayDataset final : public Dataset {
 public:
  ArrayDataset(StoredArray images, std::vector<int64_t> labels, bool has_labels,
               std::vector<std::string> class_names, const DataOptions& options,
               const std::string& source)
      : images_(std::move(images)),
        labels_(std::move(labels)),
        has_labels_(has_labels),
        class_names_(std::move(class_names)),
        byte_scale_(options.scale),
        transform_(options, sample_shape_of(images_.shape()), source) {}

  int64_t size() const override { return images_.rows(); }
  Shape sample_shape() const override { return transform_.out_shape(); }
  bool has_labels() const override { return has_labels_; }
  std::vector<std::string> class_names() const override { return class_names_; }

  Batch batch(int64_t start, int64_t count) const override {
    check_batch_range(start, count, size());
    Batch batch;
    batch.inputs.push_back(make_batch_tensor(count, transform_.out_shape()));
    float* out = batch.inputs[0].data<float>();
    const int64_t stored_numel = images_.row_bytes() / dtype_size(images_.format().dtype);
    const int64_t chunk_rows = std::max<int64_t>(
        1, static_cast<int64_t>(kChunkBytes / std::max<uint64_t>(1, images_.row_bytes())));
    std::vector<unsigned char> raw;
    std::vector<float> stored;
    for (int64_t first = 0; first < count; first += chunk_rows) {
      const int64_t rows = std::min(chunk_rows, count - first);
      raw.resize(static_cast<size_t>(rows) * images_.row_bytes());
      images_.read_rows(start + first, rows, raw.data());
      float* chunk_out = out + first * transform_.out_numel();
      if (transform_.identity()) {
        convert_to_float(raw.data(), rows * stored_numel, images_.format(), byte_scale_, chunk_out);
        continue;
      }
      stored.resize(static_cast<size_t>(rows * stored_numel));
      convert_to_float(raw.data(), rows * stored_numel, images_.format(), byte_scale_,
                       stored.data());
      for (int64_t row = 0; row < rows; ++row) {
        transform_.apply(&stored[row * stored_numel], chunk_out + row * transform_.out_numel());
      }
    }
    if (has_labels_) batch.labels.assign(labels_.begin() + start, labels_.begin() + start + count);
    return batch;
  }

 private:
  StoredArray images_;
  std::vector<int64_t> labels_;
  bool has_labels_;
  std::vector<std::string> class_names_;
  float byte_scale_;
  SampleTransform transform_;
};

// SplitMix64's output function: a bijective mix of a 64-bit counter.
uint64_t splitmix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

class RandomDataset final : public Dataset {
 public:
  RandomDataset(int64_t count, const Shape& shape, const DataOptions& options)
      : count_(count),
        shape_(shape),
        numel_(shape_numel(shape)),
        seed_(options.seed),
        transform_(options, shape, "random data") {}

  int64_t size() const override { return count_; }
  Shape sample_shape() const override { return transform_.out_shape(); }
  bool has_labels() const override { return false; }

  Batch batch(int64_t start, int64_t count) const override {
    check_batch_range(start, count, size());
    Batch batch;
    batch.inputs.push_back(make_batch_tensor(count, transform_.out_shape()));
    float* out = batch.inputs[0].data<float>();
    std::vector<float> sample(static_cast<size_t>(numel_));
    for (int64_t index = 0; index < count; ++index) {
      // Element e of sample s is draw number s * numel + e of one SplitMix64 stream, so the
      // values do not depend on how the samples are batched.
      const uint64_t first_draw = static_cast<uint64_t>(start + index) * numel_;
      for (int64_t element = 0; element < numel_; ++element) {
        const uint64_t bits = splitmix64(seed_ + (first_draw + element + 1) * kGolden);
        // The top 24 bits give every float in [0,1) with spacing 2^-24.
        sample[element] = static_cast<float>(bits >> 40) * 0x1.0p-24f;
      }
      transform_.apply(sample.data(), out + index * transform_.out_numel());
    }
    return batch;
  }

 private:
  static constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;  // SplitMix64's increment
  int64_t count_;
  Shape shape_;
  int64_t numel_;
  uint64_t seed_;
  SampleTransform transform_;
};

}  // namespace

std::unique_ptr<Dataset> make_array_dataset(const StoredArray& images,
                                            const std::optional<StoredArray>& labels,
                                            std::vector<std::string> class_names,
                                            const DataOptions& options, const std::string& source) {
  QUENCH_CHECK(images.shape().size() >= 2, ErrorKind::kInvalidArgument,
               "{}: images '{}' must have shape [N, ...] with at least 2 dims, got {}", source,
               images.path(), shape_str(images.shape()));
  QUENCH_CHECK(image_dtype_ok(images.format().dtype), ErrorKind::kInvalidArgument,
               "{}: images '{}' hold {} values; expected uint8, float32, float64 or float16",
               source, images.path(), dtype_name(images.format().dtype));
  std::vector<int64_t> label_values;
  if (labels) {
    QUENCH_CHECK(labels->shape().size() == 1, ErrorKind::kInvalidArgument,
                 "{}: labels '{}' must have shape [N], got {}", source, labels->path(),
                 shape_str(labels->shape()));
    QUENCH_CHECK(labels->rows() == images.rows(), ErrorKind::kInvalidArgument,
                 "{}: images '{}' have {} samples but labels '{}' have {}", source, images.path(),
                 images.rows(), labels->path(), labels->rows());
    label_values = labels->read_all_int64("labels");
    for (size_t index = 0; index < label_values.size(); ++index) {
      QUENCH_CHECK(label_values[index] >= 0, ErrorKind::kInvalidArgument,
                   "{}: label {} of sample {} in '{}' is negative", source, label_values[index],
                   index, labels->path());
    }
  }
  return std::make_unique<ArrayDataset>(images, std::move(label_values), labels.has_value(),
                                        std::move(class_names), options, source);
}

std::unique_ptr<Dataset> make_random_dataset(int64_t count, const Shape& shape,
                                             const DataOptions& options) {
  return std::make_unique<RandomDataset>(count, shape, options);
}

void check_batch_range(int64_t start, int64_t count, int64_t size) {
  QUENCH_CHECK(start >= 0 && count >= 0 && start <= size && count <= size - start,
               ErrorKind::kInvalidArgument,
               "batch of {} samples from {} is out of range: the dataset has {} samples", count,
               start, size);
}

Tensor make_batch_tensor(int64_t count, const Shape& sample_shape) {
  Shape shape{count};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  return Tensor::empty(DType::kFloat32, std::move(shape));
}

}  // namespace quench

// open_dataset: the spec syntax (documented in quench/data.h) and offset/limit.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/check.h"
#include "data/sources.h"
#include "quench/data.h"

namespace quench {
namespace {
namespace fs = std::filesystem;

constexpr std::string_view kDefaultFmnistDir = "/usr/share/datasets/fashion-mnist";
constexpr std::string_view kSpecHelp =
    "fmnist:train, fmnist:test, idx:IMAGES[,LABELS], npy:X.npy[,Y.npy], "
    "npy:NAME=X.npy,...[,labels=Y.npy], folder:DIR, random:N[:CxHxW], or the path of a folder or "
    ".npy file";
// random:N refuses more samples than this: far more than any run, and N * numel stays small.
constexpr int64_t kMaxRandomSamples = int64_t{1} << 32;

const std::vector<std::string> kFmnistClasses = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                                 "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                                 "Bag",         "Ankle boot"};

int64_t parse_count(std::string_view text, std::string_view what, const std::string& spec) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  QUENCH_CHECK(ec == std::errc() && end == text.data() + text.size() && value > 0,
               ErrorKind::kInvalidArgument,
               "dataset spec '{}': {} must be a positive integer, got '{}'", spec, what, text);
  return value;
}

// "1x28x28" -> [1,28,28]
Shape parse_shape(std::string_view text, const std::string& spec) {
  Shape shape;
  size_t begin = 0;
  while (true) {
    const size_t end = std::min(text.find('x', begin), text.size());
    shape.push_back(parse_count(text.substr(begin, end - begin), "each dim of the shape", spec));
    if (end == text.size()) break;
    begin = end + 1;
  }
  return shape;
}

// "A,B" -> {"A", "B"}; "A" -> {"A", ""}.
std::pair<std::string, std::string> split_pair(const std::string& text, const std::string& spec) {
  const size_t comma = text.find(',');
  std::pair<std::string, std::string> parts{text.substr(0, comma), ""};
  if (comma != std::string::npos) parts.second = text.substr(comma + 1);
  QUENCH_CHECK(!parts.first.empty() && parts.second.find(',') == std::string::npos &&
                   (comma == std::string::npos || !parts.second.empty()),
               ErrorKind::kInvalidArgument,
               "dataset spec '{}': expected one or two comma-separated file names", spec);
  return parts;
}

std::unique_ptr<Dataset> open_arrays(const StoredArray& images, const std::string& labels_path,
                                     bool npy, std::vector<std::string> class_names,
                                     const DataOptions& options, const std::string& spec) {
  std::optional<StoredArray> labels;
  if (!labels_path.empty())
    labels = npy ? open_npy_array(labels_path) : open_idx_array(labels_path);
  return make_array_dataset(images, labels, std::move(class_names), options,
                            "dataset '" + spec + "'");
}

// npy:NAME=A.npy,NAME2=B.npy[,labels=Y.npy]: one array per named model input.
std::unique_ptr<Dataset> open_named_arrays(const std::string& rest, const DataOptions& options,
                                           const std::string& spec) {
  QUENCH_CHECK(options.channels == 0 && options.resize_height == 0 && options.resize_width == 0 &&
                   options.mean.empty() && options.std.empty() &&
                   options.layout == DataLayout::kNCHW,
               ErrorKind::kInvalidArgument,
               "dataset spec '{}': named arrays are fed as they are; channel, resize, mean/std "
               "and layout options apply to images only",
               spec);
  std::vector<std::pair<std::string, StoredArray>> arrays;
  std::optional<StoredArray> labels;
  size_t begin = 0;
  while (begin <= rest.size()) {
    const size_t end = std::min(rest.find(',', begin), rest.size());
    const std::string entry = rest.substr(begin, end - begin);
    const size_t equals = entry.find('=');
    QUENCH_CHECK(equals != std::string::npos && equals > 0 && equals + 1 < entry.size(),
                 ErrorKind::kInvalidArgument,
                 "dataset spec '{}': expected NAME=FILE.npy entries separated by commas, got "
                 "'{}'",
                 spec, entry);
    const std::string name = entry.substr(0, equals);
    const std::string path = entry.substr(equals + 1);
    if (name == "labels") {
      QUENCH_CHECK(!labels, ErrorKind::kInvalidArgument, "dataset spec '{}': labels given twice",
                   spec);
      labels = open_npy_array(path);
    } else {
      for (const auto& [seen, _] : arrays) {
        QUENCH_CHECK(seen != name, ErrorKind::kInvalidArgument,
                     "dataset spec '{}': input '{}' given twice", spec, name);
      }
      arrays.emplace_back(name, open_npy_array(path));
    }
    begin = end + 1;
  }
  QUENCH_CHECK(!arrays.empty(), ErrorKind::kInvalidArgument,
               "dataset spec '{}': no NAME=FILE.npy input besides the labels", spec);
  return make_named_arrays_dataset(std::move(arrays), std::move(labels), "dataset '" + spec + "'");
}

// `name` in `dir`, gzipped or not.
std::string fmnist_file(const fs::path& dir, const std::string& name) {
  for (const std::string& candidate : {name + ".gz", name}) {
    std::error_code ec;
    if (fs::exists(dir / candidate, ec)) return (dir / candidate).string();
  }
  fail(ErrorKind::kIo,
       "Fashion-MNIST file '{}' not found in '{}' (install the Debian package "
       "dataset-fashion-mnist, or set QUENCH_FMNIST_DIR to the folder holding the files)",
       name + ".gz", dir.string());
}

std::unique_ptr<Dataset> open_fmnist(const std::string& split, const DataOptions& options,
                                     const std::string& spec) {
  QUENCH_CHECK(split == "train" || split == "test", ErrorKind::kInvalidArgument,
               "dataset spec '{}': expected fmnist:train or fmnist:test", spec);
  const char* env = std::getenv("QUENCH_FMNIST_DIR");
  const fs::path dir = env != nullptr && *env != '\0' ? fs::path(env) : fs::path(kDefaultFmnistDir);
  const std::string prefix = split == "train" ? "train" : "t10k";
  const StoredArray images = open_idx_array(fmnist_file(dir, prefix + "-images-idx3-ubyte"));
  return open_arrays(images, fmnist_file(dir, prefix + "-labels-idx1-ubyte"), false, kFmnistClasses,
                     options, spec);
}

std::unique_ptr<Dataset> open_random(const std::string& rest, const DataOptions& options,
                                     const std::string& spec) {
  const size_t colon = rest.find(':');
  const int64_t count = parse_count(rest.substr(0, colon), "the sample count N", spec);
  QUENCH_CHECK(count <= kMaxRandomSamples, ErrorKind::kInvalidArgument,
               "dataset spec '{}': at most {} random samples", spec, kMaxRandomSamples);
  const Shape shape =
      colon == std::string::npos ? options.random_shape : parse_shape(rest.substr(colon + 1), spec);
  QUENCH_CHECK(!shape.empty(), ErrorKind::kInvalidArgument,
               "dataset spec '{}': random data needs a sample shape, e.g. random:{}:1x28x28", spec,
               count);
  for (int64_t d : shape) {
    QUENCH_CHECK(d > 0, ErrorKind::kInvalidArgument,
                 "dataset spec '{}': random sample shape {} must have positive dims", spec,
                 shape_str(shape));
  }
  QUENCH_CHECK(shape_numel(shape) <= int64_t{1} << 30, ErrorKind::kInvalidArgument,
               "dataset spec '{}': random sample shape {} is too large", spec, shape_str(shape));
  return make_random_dataset(count, shape, options);
}

std::unique_ptr<Dataset> open_source(const std::string& spec, const DataOptions& options) {
  std::error_code ec;
  if (fs::is_directory(spec, ec)) return make_folder_dataset(spec, options);
  if (spec.ends_with(".npy") && (fs::exists(spec, ec) || spec.find(':') == std::string::npos)) {
    return open_source("npy:" + spec, options);
  }

  const size_t colon = spec.find(':');
  QUENCH_CHECK(colon != std::string::npos, ErrorKind::kInvalidArgument,
               "dataset '{}' is not an existing folder or .npy file, nor a spec; expected {}", spec,
               kSpecHelp);
  const std::string scheme = spec.substr(0, colon);
  const std::string rest = spec.substr(colon + 1);
  if (scheme == "fmnist") return open_fmnist(rest, options, spec);
  if (scheme == "random") return open_random(rest, options, spec);
  if (scheme == "folder") {
    QUENCH_CHECK(!rest.empty(), ErrorKind::kInvalidArgument,
                 "dataset spec '{}': expected folder:DIR", spec);
    return make_folder_dataset(rest, options);
  }
  if (scheme == "npy" && rest.find('=') != std::string::npos) {
    return open_named_arrays(rest, options, spec);
  }
  if (scheme == "idx" || scheme == "npy") {
    const bool npy = scheme == "npy";
    const auto [images_path, labels_path] = split_pair(rest, spec);
    const StoredArray images = npy ? open_npy_array(images_path) : open_idx_array(images_path);
    return open_arrays(images, labels_path, npy, {}, options, spec);
  }
  fail(ErrorKind::kInvalidArgument, "dataset spec '{}': unknown scheme '{}'; expected {}", spec,
       scheme, kSpecHelp);
}

// Samples [offset, offset + count) of another dataset.
class RangeDataset final : public Dataset {
 public:
  RangeDataset(std::unique_ptr<Dataset> base, int64_t offset, int64_t count)
      : base_(std::move(base)), offset_(offset), count_(count) {}

  int64_t size() const override { return count_; }
  Shape sample_shape() const override { return base_->sample_shape(); }
  std::vector<DataInput> inputs() const override { return base_->inputs(); }
  bool has_labels() const override { return base_->has_labels(); }
  std::vector<std::string> class_names() const override { return base_->class_names(); }
  Batch batch(int64_t start, int64_t count) const override {
    check_batch_range(start, count, count_);
    return base_->batch(offset_ + start, count);
  }

 private:
  std::unique_ptr<Dataset> base_;
  int64_t offset_;
  int64_t count_;
};

}  // namespace

Dataset::~Dataset() = default;

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const DataOptions& options) {
  QUENCH_CHECK(!spec.empty(), ErrorKind::kInvalidArgument, "empty dataset spec; expected {}",
               kSpecHelp);
  QUENCH_CHECK(options.offset >= 0 && options.limit >= 0, ErrorKind::kInvalidArgument,
               "dataset '{}': offset and limit must not be negative, got {} and {}", spec,
               options.offset, options.limit);
  QUENCH_CHECK(std::isfinite(options.scale), ErrorKind::kInvalidArgument,
               "dataset '{}': scale must be a finite number, got {}", spec, options.scale);
  std::unique_ptr<Dataset> dataset = open_source(spec, options);
  const int64_t size = dataset->size();
  QUENCH_CHECK(size > 0, ErrorKind::kInvalidArgument, "dataset '{}' has no samples", spec);
  if (options.offset == 0 && (options.limit == 0 || options.limit >= size)) return dataset;
  QUENCH_CHECK(options.offset < size, ErrorKind::kInvalidArgument,
               "dataset '{}': offset {} is past its end ({} samples)", spec, options.offset, size);
  const int64_t available = size - options.offset;
  const int64_t count = options.limit == 0 ? available : std::min(options.limit, available);
  return std::make_unique<RangeDataset>(std::move(dataset), options.offset, count);
}

}  // namespace quench

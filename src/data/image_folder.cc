// Datasets of image files: class subfolders (ImageNet style) or a flat, unlabeled folder.
#include <algorithm>
#include <filesystem>

#include "core/check.h"
#include "core/file_util.h"
#include "core/resource_check.h"
#include "data/sources.h"
#include "data/stb.h"
#include "data/transform.h"

namespace quench {
namespace {
namespace fs = std::filesystem;

bool is_hidden(const fs::path& path) { return path.filename().string().starts_with('.'); }

bool is_image_file(const fs::directory_entry& entry) {
  if (!entry.is_regular_file() || is_hidden(entry.path())) return false;
  std::string extension = entry.path().extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* known : {".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".ppm"}) {
    if (extension == known) return true;
  }
  return false;
}

struct Item {
  std::string path;
  int64_t label = -1;
};

class FolderDataset final : public Dataset {
 public:
  FolderDataset(std::string dir, std::vector<Item> items, std::vector<std::string> classes,
                const DataOptions& options)
      : dir_(std::move(dir)),
        items_(std::move(items)),
        classes_(std::move(classes)),
        scale_(options.scale) {
    const std::string& first = items_.front().path;
    const ImageInfo info = read_image_info(read_file(first, "image"), first);
    channels_ = options.channels != 0 ? options.channels : (info.channels <= 2 ? 1 : 3);
    QUENCH_CHECK(channels_ == 1 || channels_ == 3, ErrorKind::kInvalidArgument,
                 "folder '{}': channels must be 1 or 3, got {}", dir_, channels_);
    first_height_ = info.height;
    first_width_ = info.width;
    transform_ = std::make_unique<SampleTransform>(
        options, Shape{channels_, first_height_, first_width_}, "folder '" + dir_ + "'");
  }

  int64_t size() const override { return static_cast<int64_t>(items_.size()); }
  Shape sample_shape() const override { return transform_->out_shape(); }
  bool has_labels() const override { return !classes_.empty(); }
  std::vector<std::string> class_names() const override { return classes_; }

  Batch batch(int64_t start, int64_t count) const override {
    check_batch_range(start, count, size());
    Batch batch;
    batch.inputs.push_back(make_batch_tensor(count, transform_->out_shape()));
    float* out = batch.inputs[0].data<float>();
    std::vector<float> planes;
    for (int64_t index = 0; index < count; ++index) {
      const Item& item = items_[start + index];
      const DecodedImage image =
          decode_image(read_file(item.path, "image"), static_cast<int>(channels_), item.path);
      if (!transform_->resizes() &&
          (image.height != first_height_ || image.width != first_width_)) {
        fail(ErrorKind::kInvalidArgument,
             "image '{}' is {}x{} (height x width) but '{}' is {}x{}; give a resize to use "
             "images of different sizes",
             item.path, image.height, image.width, items_.front().path, first_height_,
             first_width_);
      }
      // HWC bytes to CHW floats.
      const int64_t plane = int64_t{image.height} * image.width;
      check_buffer_bytes(static_cast<uint64_t>(plane * channels_) * sizeof(float),
                         fmt::format("image '{}' as floats", item.path));
      planes.resize(static_cast<size_t>(plane * channels_));
      const unsigned char* pixels = image.pixels.get();
      for (int64_t pixel = 0; pixel < plane; ++pixel) {
        for (int64_t channel = 0; channel < channels_; ++channel) {
          planes[channel * plane + pixel] =
              static_cast<float>(pixels[pixel * channels_ + channel]) * scale_;
        }
      }
      transform_->apply(planes.data(), image.height, image.width,
                        out + index * transform_->out_numel());
      if (!classes_.empty()) batch.labels.push_back(item.label);
    }
    return batch;
  }

 private:
  std::string dir_;
  std::vector<Item> items_;
  std::vector<std::string> classes_;
  float scale_;
  int64_t channels_ = 0;
  int64_t first_height_ = 0;
  int64_t first_width_ = 0;
  std::unique_ptr<SampleTransform> transform_;
};

// Image files under `dir`, recursively, in sorted path order.
std::vector<std::string> images_under(const fs::path& dir) {
  std::vector<std::string> paths;
  for (auto it =
           fs::recursive_directory_iterator(dir, fs::directory_options::follow_directory_symlink);
       it != fs::recursive_directory_iterator(); ++it) {
    if (it->is_directory() && is_hidden(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    if (is_image_file(*it)) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

}  // namespace

std::unique_ptr<Dataset> make_folder_dataset(const std::string& dir, const DataOptions& options) {
  std::error_code ec;
  QUENCH_CHECK(fs::exists(dir, ec), ErrorKind::kIo, "image folder '{}' does not exist", dir);
  QUENCH_CHECK(fs::is_directory(dir, ec), ErrorKind::kInvalidArgument,
               "'{}' is not a folder (folder: expects a folder of images)", dir);

  std::vector<std::string> classes;
  std::vector<std::string> loose_images;
  try {
    for (const fs::directory_entry& entry : fs::directory_iterator(dir)) {
      if (entry.is_directory() && !is_hidden(entry.path())) {
        classes.push_back(entry.path().filename().string());
      } else if (is_image_file(entry)) {
        loose_images.push_back(entry.path().string());
      }
    }
    std::sort(classes.begin(), classes.end());
    std::sort(loose_images.begin(), loose_images.end());

    std::vector<Item> items;
    if (classes.empty()) {
      for (std::string& path : loose_images) items.push_back({std::move(path), -1});
    } else {
      QUENCH_CHECK(loose_images.empty(), ErrorKind::kInvalidArgument,
                   "folder '{}' holds both class subfolders and images such as '{}'; put every "
                   "image in a class subfolder, or use a folder without subfolders",
                   dir, loose_images.front());
      for (size_t label = 0; label < classes.size(); ++label) {
        for (std::string& path : images_under(fs::path(dir) / classes[label])) {
          items.push_back({std::move(path), static_cast<int64_t>(label)});
        }
      }
    }
    QUENCH_CHECK(!items.empty(), ErrorKind::kInvalidArgument,
                 "no images found in {} (expected PNG, JPEG, BMP or PGM/PPM files, directly or "
                 "in class subfolders)",
                 dir);
    return std::make_unique<FolderDataset>(dir, std::move(items), std::move(classes), options);
  } catch (const fs::filesystem_error& e) {
    fail(ErrorKind::kIo, "cannot list image folder '{}': {}", dir, e.what());
  }
}

}  // namespace quench

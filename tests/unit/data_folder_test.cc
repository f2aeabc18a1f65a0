// Image folder datasets: class subfolders, flat folders, decoding, resize and errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "quench/data.h"
#include "test_util.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wsign-compare"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace quench {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

constexpr double kFloatTolerance = 1e-6;

// A `width` x `height` PNG of `channels` whose byte i is `first + i`.
void write_png(const std::string& path, int width, int height, int channels, int first) {
  std::vector<unsigned char> pixels(static_cast<size_t>(width * height * channels));
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(first + i);
  ASSERT_TRUE(stbi_write_png(path.c_str(), width, height, channels, pixels.data(), 0)) << path;
}

void expect_error(const std::function<void()>& action, ErrorKind kind,
                  const std::vector<std::string>& parts) {
  try {
    action();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << part << "' not in: " << e.what();
    }
  }
}

TEST(DataFolder, ClassSubfolders) {
  TempDir dir;
  // Written out of order: labels follow the sorted class names, samples the sorted paths.
  write_png(dir.file("dog/b.png"), 3, 2, 3, 100);
  write_png(dir.file("dog/a.png"), 3, 2, 3, 50);
  write_png(dir.file("cat/x.png"), 3, 2, 3, 0);
  write_png(dir.file("cat/nested/y.png"), 3, 2, 3, 200);
  std::ofstream(dir.file("cat/README.txt")) << "not an image";
  write_png(dir.file("cat/.hidden.png"), 3, 2, 3, 0);
  fs::create_directories(dir.path().string() + "/.cache");

  const auto dataset = open_dataset("folder:" + dir.path().string());
  ASSERT_EQ(dataset->size(), 4);
  EXPECT_EQ(dataset->sample_shape(), (Shape{3, 2, 3}));
  EXPECT_TRUE(dataset->has_labels());
  EXPECT_EQ(dataset->class_names(), (std::vector<std::string>{"cat", "dog"}));
  const Batch batch = dataset->batch(0, 4);
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{0, 0, 1, 1}));
  const std::vector<double> values = batch.images().to_double_vector();
  // Sample 2 is dog/a.png (bytes 50...): HWC byte (y, x, c) lands at CHW (c, y, x).
  const std::vector<int> first_bytes = {200, 0, 50, 100};  // cat/nested/y, cat/x, dog/a, dog/b
  for (int sample = 0; sample < 4; ++sample) {
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 3; ++x) {
        for (int c = 0; c < 3; ++c) {
          const int byte = (first_bytes[sample] + (y * 3 + x) * 3 + c) % 256;
          EXPECT_NEAR(values[((sample * 3 + c) * 2 + y) * 3 + x], byte / 255.0, kFloatTolerance)
              << sample << " " << y << " " << x << " " << c;
        }
      }
    }
  }
  // A folder path without a scheme is the same dataset.
  EXPECT_TRUE(open_dataset(dir.path().string())->batch(0, 4).images().equals(batch.images()));
}

TEST(DataFolder, FlatFolderIsUnlabeled) {
  TempDir dir;
  write_png(dir.file("b.png"), 2, 2, 1, 10);
  write_png(dir.file("a.png"), 2, 2, 1, 20);
  const auto dataset = open_dataset(dir.path().string());
  EXPECT_FALSE(dataset->has_labels());
  EXPECT_TRUE(dataset->class_names().empty());
  EXPECT_EQ(dataset->sample_shape(), (Shape{1, 2, 2}));  // grey PNGs give one channel
  const Batch batch = dataset->batch(0, 2);
  EXPECT_TRUE(batch.labels.empty());
  EXPECT_NEAR(batch.images().data<float>()[0], 20 / 255.0, kFloatTolerance);  // a.png first
}

TEST(DataFolder, OtherFormatsAndChannels) {
  TempDir dir;
  const unsigned char rgb[] = {255, 0, 0, 0, 255, 0};  // a red and a green pixel
  ASSERT_TRUE(stbi_write_bmp(dir.file("a.bmp").c_str(), 2, 1, 3, rgb));
  ASSERT_TRUE(stbi_write_jpg(dir.file("b.JPG").c_str(), 2, 1, 3, rgb, 95));
  DataOptions options;
  options.channels = 1;
  options.scale = 1.0f;
  const auto grey = open_dataset(dir.path().string(), options);
  EXPECT_EQ(grey->sample_shape(), (Shape{1, 1, 2}));
  const std::vector<double> bmp = grey->batch(0, 1).images().to_double_vector();
  // stb_image's luma: (77 r + 150 g + 29 b) >> 8.
  EXPECT_EQ(bmp, (std::vector<double>{(77 * 255) >> 8, (150 * 255) >> 8}));
  EXPECT_EQ(grey->batch(1, 1).images().shape(), (Shape{1, 1, 1, 2}));

  options.channels = 3;
  TempDir grey_dir;
  write_png(grey_dir.file("g.png"), 1, 1, 1, 60);
  EXPECT_EQ(
      open_dataset(grey_dir.path().string(), options)->batch(0, 1).images().to_double_vector(),
      (std::vector<double>{60, 60, 60}));
}

TEST(DataFolder, ResizeMeanStdAndLayout) {
  TempDir dir;
  write_png(dir.file("a/big.png"), 4, 4, 3, 0);
  write_png(dir.file("b/small.png"), 2, 3, 3, 0);
  DataOptions options;
  options.resize_height = 2;
  options.resize_width = 2;
  options.mean = {0.5f, 0.25f, 0.0f};
  options.std = {0.5f, 0.25f, 2.0f};
  options.layout = DataLayout::kNHWC;
  const auto dataset = open_dataset("folder:" + dir.path().string(), options);
  EXPECT_EQ(dataset->sample_shape(), (Shape{2, 2, 3}));
  const Batch batch = dataset->batch(0, 2);
  EXPECT_EQ(batch.images().shape(), (Shape{2, 2, 2, 3}));
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{0, 1}));

  // The same images unnormalized in NCHW: normalization and layout agree element by element.
  DataOptions plain;
  plain.resize_height = 2;
  plain.resize_width = 2;
  const std::vector<double> raw =
      open_dataset(dir.path().string(), plain)->batch(0, 2).images().to_double_vector();
  const std::vector<double> got = batch.images().to_double_vector();
  for (int sample = 0; sample < 2; ++sample) {
    for (int pixel = 0; pixel < 4; ++pixel) {
      for (int c = 0; c < 3; ++c) {
        const double want = (raw[(sample * 3 + c) * 4 + pixel] - options.mean[c]) / options.std[c];
        EXPECT_NEAR(got[(sample * 4 + pixel) * 3 + c], want, kFloatTolerance);
      }
    }
  }
  // Shrinking 4 -> 2 weighs input pixels with a triangle of radius 2 around the output center
  // (antialiased, as PIL's bilinear), the outside pixel clamped to the edge: output 0 takes
  // 0.5, 0.375, 0.125 of inputs 0, 1, 2 (mean index 0.625). Channel 0 of input (y, x) is byte
  // 3 * (4y + x), so the top-left output is (12 + 3) * 0.625 / 255.
  EXPECT_NEAR(raw[0], 15 * 0.625 / 255.0, kFloatTolerance);
}

TEST(DataFolder, Errors) {
  TempDir empty;
  fs::create_directories(empty.path().string() + "/class_a");
  std::ofstream(empty.file("class_a/notes.txt")) << "x";
  expect_error([&] { open_dataset(empty.path().string()); }, ErrorKind::kInvalidArgument,
               {"no images found in " + empty.path().string()});

  TempDir sizes;
  write_png(sizes.file("a.png"), 2, 2, 3, 0);
  write_png(sizes.file("b.png"), 3, 2, 3, 0);
  const auto mixed = open_dataset(sizes.path().string());
  expect_error([&] { mixed->batch(0, 2); }, ErrorKind::kInvalidArgument,
               {"b.png' is 2x3", "a.png' is 2x2", "resize"});

  TempDir mixed_layout;
  write_png(mixed_layout.file("loose.png"), 2, 2, 3, 0);
  write_png(mixed_layout.file("class/a.png"), 2, 2, 3, 0);
  expect_error([&] { open_dataset(mixed_layout.path().string()); }, ErrorKind::kInvalidArgument,
               {"both class subfolders and images", "loose.png"});

  TempDir corrupt;
  write_png(corrupt.file("a.png"), 2, 2, 3, 0);
  std::ofstream(corrupt.file("b.png")) << "not a png at all";
  const auto broken = open_dataset(corrupt.path().string());
  expect_error([&] { broken->batch(0, 2); }, ErrorKind::kInvalidArgument, {"b.png", "not a PNG"});
  std::ofstream(corrupt.file("0.png")) << "bad first image";
  expect_error([&] { open_dataset(corrupt.path().string()); }, ErrorKind::kInvalidArgument,
               {"0.png"});

  expect_error([&] { open_dataset("folder:" + empty.path().string() + "/missing"); },
               ErrorKind::kIo, {"missing", "does not exist"});
  expect_error([&] { open_dataset("folder:" + corrupt.file("a.png")); },
               ErrorKind::kInvalidArgument, {"is not a folder"});
}

}  // namespace
}  // namespace quench

// npy and random datasets, DataOptions (offset/limit, channels, resize, mean/std, layout) and
// spec errors.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <thread>

#include "quench/data.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// Tolerance of float results that go through a division or a resize filter.
constexpr double kFloatTolerance = 1e-6;

void expect_open_error(const std::string& spec, const DataOptions& options, ErrorKind kind,
                       const std::vector<std::string>& parts) {
  try {
    open_dataset(spec, options);
    ADD_FAILURE() << "open_dataset('" << spec << "') did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << part << "' not in: " << e.what();
    }
  }
}

std::vector<float> iota(int64_t count, float start = 0.0f) {
  std::vector<float> values(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) values[i] = start + static_cast<float>(i);
  return values;
}

TEST(DataNpyDataset, FloatImagesWithLabels) {
  TempDir dir;
  write_npy(Tensor::from_vector<float>({3, 2, 1, 2}, iota(12)), dir.file("x.npy"));
  write_npy(Tensor::from_vector<int64_t>({3}, {2, 0, 1}), dir.file("y.npy"));
  const auto dataset = open_dataset("npy:" + dir.file("x.npy") + "," + dir.file("y.npy"));
  EXPECT_EQ(dataset->size(), 3);
  EXPECT_EQ(dataset->sample_shape(), (Shape{2, 1, 2}));
  const Batch batch = dataset->batch(1, 2);
  EXPECT_EQ(batch.images().shape(), (Shape{2, 2, 1, 2}));
  EXPECT_EQ(batch.images().to_double_vector(),
            (std::vector<double>{4, 5, 6, 7, 8, 9, 10, 11}));  // float data is not scaled
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{0, 1}));
}

TEST(DataNpyDataset, Uint8ImagesAreScaledAndGetAChannel) {
  TempDir dir;
  write_npy(Tensor::from_vector<uint8_t>({2, 1, 2}, {0, 51, 255, 102}), dir.file("x.npy"));
  write_npy(Tensor::from_vector<uint8_t>({2}, {7, 3}), dir.file("y.npy"));
  // A bare .npy path is the same as npy:PATH.
  const auto dataset = open_dataset(dir.file("x.npy"));
  EXPECT_EQ(dataset->sample_shape(), (Shape{1, 1, 2}));  // [N,H,W] -> [N,1,H,W]
  EXPECT_FALSE(dataset->has_labels());
  EXPECT_TRUE(dataset->batch(0, 2).labels.empty());
  const std::vector<double> values = dataset->batch(0, 2).images().to_double_vector();
  const std::vector<float> want = {0.0f, 0.2f, 1.0f, 0.4f};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_FLOAT_EQ(values[i], want[i]) << i;

  DataOptions options;
  options.scale = 1.0f;
  const auto raw = open_dataset("npy:" + dir.file("x.npy") + "," + dir.file("y.npy"), options);
  EXPECT_EQ(raw->batch(0, 2).images().to_double_vector(), (std::vector<double>{0, 51, 255, 102}));
  EXPECT_EQ(raw->batch(0, 2).labels, (std::vector<int64_t>{7, 3}));
}

TEST(DataNpyDataset, OtherFloatTypesAndLabelTypes) {
  TempDir dir;
  write_npy(Tensor::from_vector<double>({2, 3}, {0.5, 1, 2, 3, 4, -1}), dir.file("x.npy"));
  write_npy(Tensor::from_vector<int32_t>({2}, {1, 4}), dir.file("y.npy"));
  const auto dataset = open_dataset("npy:" + dir.file("x.npy") + "," + dir.file("y.npy"));
  EXPECT_EQ(dataset->sample_shape(), (Shape{3}));  // vectors stay vectors
  const Batch batch = dataset->batch(0, 2);
  EXPECT_EQ(batch.images().to_double_vector(), (std::vector<double>{0.5, 1, 2, 3, 4, -1}));
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{1, 4}));
}

TEST(DataNpyDataset, Errors) {
  TempDir dir;
  write_npy(Tensor::from_vector<float>({2, 2}, iota(4)), dir.file("x.npy"));
  write_npy(Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4}), dir.file("int_x.npy"));
  write_npy(Tensor::from_vector<float>({2}, {1, 2}), dir.file("rank1.npy"));
  write_npy(Tensor::from_vector<int64_t>({3}, {0, 1, 2}), dir.file("three.npy"));
  write_npy(Tensor::from_vector<int64_t>({2}, {0, -1}), dir.file("negative.npy"));
  write_npy(Tensor::from_vector<float>({2}, {0, 1}), dir.file("float_y.npy"));
  write_npy(Tensor::zeros(DType::kFloat32, {0, 2}), dir.file("empty.npy"));
  const std::string x = "npy:" + dir.file("x.npy") + ",";
  expect_open_error(x + dir.file("three.npy"), {}, ErrorKind::kInvalidArgument,
                    {"have 2 samples", "have 3"});
  expect_open_error(x + dir.file("negative.npy"), {}, ErrorKind::kInvalidArgument,
                    {"label -1 of sample 1", "negative"});
  expect_open_error(x + dir.file("float_y.npy"), {}, ErrorKind::kInvalidArgument,
                    {"labels must be integers"});
  expect_open_error("npy:" + dir.file("int_x.npy"), {}, ErrorKind::kInvalidArgument,
                    {"int32", "expected uint8, float32"});
  expect_open_error("npy:" + dir.file("rank1.npy"), {}, ErrorKind::kInvalidArgument,
                    {"[N, ...]", "[2]"});
  expect_open_error("npy:" + dir.file("empty.npy"), {}, ErrorKind::kInvalidArgument,
                    {"has no samples"});
  expect_open_error("npy:" + dir.file("nope.npy"), {}, ErrorKind::kIo,
                    {"nope.npy", "does not exist"});
}

TEST(DataRandom, ShapeRangeAndDeterminism) {
  DataOptions options;
  options.seed = 42;
  const auto dataset = open_dataset("random:10:3x4x5", options);
  EXPECT_EQ(dataset->size(), 10);
  EXPECT_EQ(dataset->sample_shape(), (Shape{3, 4, 5}));
  EXPECT_FALSE(dataset->has_labels());
  const Batch all = dataset->batch(0, 10);
  EXPECT_EQ(all.images().shape(), (Shape{10, 3, 4, 5}));
  EXPECT_TRUE(all.labels.empty());
  double sum = 0;
  for (float v : all.images().values<float>()) {
    ASSERT_GE(v, 0.0f);
    ASSERT_LT(v, 1.0f);
    sum += v;
  }
  EXPECT_NEAR(sum / 600, 0.5, 0.05);

  // The same seed gives the same samples however they are batched.
  const Batch tail = open_dataset("random:10:3x4x5", options)->batch(7, 3);
  const auto all_values = all.images().values<float>();
  const auto tail_values = tail.images().values<float>();
  EXPECT_TRUE(std::equal(tail_values.begin(), tail_values.end(), all_values.begin() + 7 * 60));

  options.seed = 43;
  EXPECT_FALSE(
      open_dataset("random:10:3x4x5", options)->batch(0, 10).images().equals(all.images()));
}

TEST(DataRandom, ShapeFromOptions) {
  DataOptions options;
  options.random_shape = {1, 28, 28};
  const auto dataset = open_dataset("random:4", options);
  EXPECT_EQ(dataset->sample_shape(), (Shape{1, 28, 28}));
  expect_open_error("random:4", {}, ErrorKind::kInvalidArgument, {"needs a sample shape"});
  expect_open_error("random:0:1x2", {}, ErrorKind::kInvalidArgument, {"positive integer"});
  expect_open_error("random:-3:1x2", {}, ErrorKind::kInvalidArgument, {"positive integer"});
  expect_open_error("random:5:1x2y", {}, ErrorKind::kInvalidArgument, {"'2y'"});
  expect_open_error("random:5:1xx2", {}, ErrorKind::kInvalidArgument, {"each dim"});
}

TEST(DataOptionsTest, OffsetAndLimit) {
  DataOptions options;
  options.offset = 3;
  options.limit = 4;
  const auto full = open_dataset("random:10:2");
  const auto part = open_dataset("random:10:2", options);
  EXPECT_EQ(part->size(), 4);
  EXPECT_TRUE(part->batch(1, 2).images().equals(full->batch(4, 2).images()));
  EXPECT_THROW(part->batch(3, 2), Error);

  options.limit = 100;  // clamped to what is left
  EXPECT_EQ(open_dataset("random:10:2", options)->size(), 7);
  options.limit = 0;  // all
  EXPECT_EQ(open_dataset("random:10:2", options)->size(), 7);

  options.offset = 10;
  expect_open_error("random:10:2", options, ErrorKind::kInvalidArgument, {"offset 10 is past"});
  options.offset = 0;
  options.limit = -1;
  expect_open_error("random:10:2", options, ErrorKind::kInvalidArgument, {"must not be negative"});
}

TEST(DataOptionsTest, BatchRange) {
  const auto dataset = open_dataset("random:5:2");
  EXPECT_EQ(dataset->batch(5, 0).images().shape(), (Shape{0, 2}));
  for (auto [start, count] : {std::pair<int64_t, int64_t>{4, 2}, {-1, 1}, {0, -1}, {6, 0}}) {
    EXPECT_THROW(dataset->batch(start, count), Error) << start << " " << count;
  }
}

TEST(DataTransform, ChannelConversion) {
  TempDir dir;
  // One 1x2 RGB image: red = {1, 0}, green = {0, 1}, blue = {0.5, 0.5}.
  write_npy(Tensor::from_vector<float>({1, 3, 1, 2}, {1, 0, 0, 1, 0.5f, 0.5f}),
            dir.file("rgb.npy"));
  write_npy(Tensor::from_vector<float>({1, 1, 1, 2}, {0.25f, 0.75f}), dir.file("grey.npy"));
  DataOptions to_grey;
  to_grey.channels = 1;
  const auto grey = open_dataset(dir.file("rgb.npy"), to_grey);
  EXPECT_EQ(grey->sample_shape(), (Shape{1, 1, 2}));
  const std::vector<double> luma = grey->batch(0, 1).images().to_double_vector();
  EXPECT_NEAR(luma[0], 0.299 + 0.114 * 0.5, kFloatTolerance);
  EXPECT_NEAR(luma[1], 0.587 + 0.114 * 0.5, kFloatTolerance);

  DataOptions to_rgb;
  to_rgb.channels = 3;
  const auto rgb = open_dataset(dir.file("grey.npy"), to_rgb);
  EXPECT_EQ(rgb->sample_shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(rgb->batch(0, 1).images().to_double_vector(),
            (std::vector<double>{0.25, 0.75, 0.25, 0.75, 0.25, 0.75}));
}

TEST(DataTransform, MeanStdAndLayout) {
  TempDir dir;
  // Two channels of a 1x2 image.
  write_npy(Tensor::from_vector<float>({1, 2, 1, 2}, {1, 2, 10, 20}), dir.file("x.npy"));
  DataOptions options;
  options.mean = {1, 10};
  options.std = {2, 5};
  const auto nchw = open_dataset(dir.file("x.npy"), options);
  const std::vector<double> normalized = nchw->batch(0, 1).images().to_double_vector();
  const std::vector<double> want = {0, 0.5, 0, 2};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(normalized[i], want[i], kFloatTolerance);

  options.layout = DataLayout::kNHWC;
  const auto nhwc = open_dataset(dir.file("x.npy"), options);
  EXPECT_EQ(nhwc->sample_shape(), (Shape{1, 2, 2}));
  const std::vector<double> interleaved = nhwc->batch(0, 1).images().to_double_vector();
  const std::vector<double> want_nhwc = {0, 0, 0.5, 2};
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(interleaved[i], want_nhwc[i], kFloatTolerance);

  options = {};
  options.mean = {0.5f};  // one value for every channel
  EXPECT_EQ(open_dataset(dir.file("x.npy"), options)->batch(0, 1).images().to_double_vector(),
            (std::vector<double>{0.5, 1.5, 9.5, 19.5}));
}

TEST(DataTransform, BilinearResize) {
  TempDir dir;
  // A 1x2 ramp [0, 1] stretched to 2x4: pixel centers map to x = -0.25, 0.25, 0.75, 1.25, which
  // clamp and interpolate to 0, 0.25, 0.75, 1.
  write_npy(Tensor::from_vector<float>({1, 1, 1, 2}, {0, 1}), dir.file("ramp.npy"));
  DataOptions options;
  options.resize_height = 2;
  options.resize_width = 4;
  const auto dataset = open_dataset(dir.file("ramp.npy"), options);
  EXPECT_EQ(dataset->sample_shape(), (Shape{1, 2, 4}));
  const std::vector<double> got = dataset->batch(0, 1).images().to_double_vector();
  const std::vector<double> want = {0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], kFloatTolerance) << i;

  // Shrinking a constant image keeps it constant.
  write_npy(Tensor::from_vector<float>({1, 1, 4, 4}, std::vector<float>(16, 0.3f)),
            dir.file("flat.npy"));
  options.resize_height = 2;
  options.resize_width = 2;
  for (double v :
       open_dataset(dir.file("flat.npy"), options)->batch(0, 1).images().to_double_vector()) {
    EXPECT_NEAR(v, 0.3, kFloatTolerance);
  }
}

TEST(DataTransform, OptionErrors) {
  TempDir dir;
  write_npy(Tensor::from_vector<float>({1, 2, 1, 1}, {1, 2}), dir.file("two_channels.npy"));
  write_npy(Tensor::from_vector<float>({1, 3, 1, 1}, {1, 2, 3}), dir.file("rgb.npy"));
  write_npy(Tensor::from_vector<float>({2, 3}, iota(6)), dir.file("vectors.npy"));
  const auto options_with = [](auto&& set) {
    DataOptions options;
    set(options);
    return options;
  };
  expect_open_error(dir.file("rgb.npy"), options_with([](DataOptions& o) {
                      o.mean = {1, 2};
                    }),
                    ErrorKind::kInvalidArgument, {"mean has 2 values", "3 channels"});
  expect_open_error(dir.file("rgb.npy"), options_with([](DataOptions& o) { o.std = {0}; }),
                    ErrorKind::kInvalidArgument, {"nonzero"});
  expect_open_error(dir.file("rgb.npy"), options_with([](DataOptions& o) { o.channels = 2; }),
                    ErrorKind::kInvalidArgument, {"channels must be 1 or 3"});
  expect_open_error(dir.file("two_channels.npy"),
                    options_with([](DataOptions& o) { o.channels = 3; }),
                    ErrorKind::kInvalidArgument, {"2 channels to 3"});
  expect_open_error(dir.file("rgb.npy"), options_with([](DataOptions& o) { o.resize_height = 4; }),
                    ErrorKind::kInvalidArgument, {"height and a width", "4x0"});
  expect_open_error(dir.file("rgb.npy"),
                    options_with([](DataOptions& o) { o.scale = std::nanf(""); }),
                    ErrorKind::kInvalidArgument, {"scale must be a finite number"});
  expect_open_error(dir.file("vectors.npy"),
                    options_with([](DataOptions& o) { o.layout = DataLayout::kNHWC; }),
                    ErrorKind::kInvalidArgument, {"[C,H,W]", "[3]"});
}

TEST(DataSpec, Errors) {
  expect_open_error("", {}, ErrorKind::kInvalidArgument, {"empty dataset spec"});
  expect_open_error("imagenet:val", {}, ErrorKind::kInvalidArgument,
                    {"unknown scheme 'imagenet'", "fmnist:train"});
  expect_open_error("/no/such/path", {}, ErrorKind::kInvalidArgument,
                    {"'/no/such/path' is not an existing folder or .npy file"});
  expect_open_error("/no/such/x.npy", {}, ErrorKind::kIo, {"/no/such/x.npy", "does not exist"});
  expect_open_error("npy:a.npy,b.npy,c.npy", {}, ErrorKind::kInvalidArgument, {"comma-separated"});
  expect_open_error("folder:", {}, ErrorKind::kInvalidArgument, {"folder:DIR"});
}

TEST(DataDataset, BatchesFromSeveralThreads) {
  TempDir dir;
  std::vector<uint8_t> bytes(64 * 3 * 5 * 5);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 % 251);
  write_npy(Tensor::from_vector<uint8_t>({64, 3, 5, 5}, bytes), dir.file("x.npy"));
  DataOptions options;
  options.resize_height = 3;
  options.resize_width = 4;
  options.mean = {0.5f};
  const auto dataset = open_dataset(dir.file("x.npy"), options);
  const Tensor want = dataset->batch(0, 64).images();
  std::vector<Tensor> got(8);
  std::vector<std::thread> threads;
  for (int part = 0; part < 8; ++part) {
    threads.emplace_back([&, part] { got[part] = dataset->batch(part * 8, 8).images(); });
  }
  for (std::thread& t : threads) t.join();
  for (int part = 0; part < 8; ++part) {
    const auto values = got[part].values<float>();
    EXPECT_TRUE(
        std::equal(values.begin(), values.end(), want.values<float>().begin() + part * 8 * 36))
        << "part " << part;
  }
}

}  // namespace
}  // namespace quench

// IDX datasets (idx:IMAGES[,LABELS]), gzipped or not, Fashion-MNIST, and corrupt IDX files.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>

#include "quench/data.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// An IDX file: 00 00 TYPE NDIMS, big-endian dims, then `data` as given.
std::string idx_file(int type, const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(d >> shift));
  }
  return out + data;
}

std::string gzip(const std::string& data) {
  z_stream stream{};
  EXPECT_EQ(deflateInit2(&stream, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()) + 32, '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

std::string pixels(int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out.push_back(static_cast<char>(i * 7 % 256));
  return out;
}

// Expects open_dataset(spec) to throw a quench::Error of `kind` whose message has every part.
void expect_open_error(const std::string& spec, ErrorKind kind,
                       const std::vector<std::string>& parts) {
  try {
    open_dataset(spec);
    ADD_FAILURE() << "open_dataset('" << spec << "') did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    for (const std::string& part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "'" << part << "' not in: " << e.what();
    }
  }
}

// Three 2x2 images and their labels, as IDX files `images` and `labels` in `dir`.
struct TinyIdx {
  explicit TinyIdx(const TempDir& dir, bool gzipped) {
    const std::string suffix = gzipped ? ".gz" : "";
    images = dir.file("images" + suffix);
    labels = dir.file("labels" + suffix);
    const std::string image_file = idx_file(0x08, {3, 2, 2}, pixels(12));
    const std::string label_file = idx_file(0x08, {3}, std::string{4, 0, 9});
    write_bytes(images, gzipped ? gzip(image_file) : image_file);
    write_bytes(labels, gzipped ? gzip(label_file) : label_file);
  }
  std::string images;
  std::string labels;
};

TEST(DataIdx, ReadsImagesAndLabels) {
  TempDir dir;
  for (bool gzipped : {false, true}) {
    SCOPED_TRACE(gzipped ? "gzipped" : "plain");
    const TinyIdx files(dir, gzipped);
    const auto dataset = open_dataset("idx:" + files.images + "," + files.labels);
    ASSERT_EQ(dataset->size(), 3);
    EXPECT_EQ(dataset->sample_shape(), (Shape{1, 2, 2}));
    EXPECT_TRUE(dataset->has_labels());
    const Batch batch = dataset->batch(1, 2);
    EXPECT_EQ(batch.images().shape(), (Shape{2, 1, 2, 2}));
    EXPECT_EQ(batch.labels, (std::vector<int64_t>{0, 9}));
    const float* values = batch.images().data<float>();
    for (int i = 0; i < 8; ++i) EXPECT_FLOAT_EQ(values[i], ((4 + i) * 7 % 256) / 255.0f) << i;
  }
}

TEST(DataIdx, LabelsAreOptional) {
  TempDir dir;
  const TinyIdx files(dir, true);
  const auto dataset = open_dataset("idx:" + files.images);
  EXPECT_FALSE(dataset->has_labels());
  EXPECT_TRUE(dataset->batch(0, 3).labels.empty());
}

TEST(DataIdx, ReadsBigEndianFloatsAsTheyAre) {
  TempDir dir;
  std::string data;
  for (float v : {0.5f, -2.0f, 3.25f, 100.0f}) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    for (int shift = 24; shift >= 0; shift -= 8) data.push_back(static_cast<char>(bits >> shift));
  }
  write_bytes(dir.file("f.idx"), idx_file(0x0D, {2, 2}, data));
  const auto dataset = open_dataset("idx:" + dir.file("f.idx"));
  EXPECT_EQ(dataset->sample_shape(), (Shape{2}));
  const Batch batch = dataset->batch(0, 2);
  EXPECT_EQ(batch.images().to_double_vector(), (std::vector<double>{0.5, -2.0, 3.25, 100.0}));
}

TEST(DataIdx, ReadsConcatenatedGzipMembers) {
  TempDir dir;
  const std::string file = idx_file(0x08, {3, 2, 2}, pixels(12));
  write_bytes(dir.file("two.gz"), gzip(file.substr(0, 10)) + gzip(file.substr(10)));
  const Batch batch = open_dataset("idx:" + dir.file("two.gz"))->batch(2, 1);
  EXPECT_FLOAT_EQ(batch.images().data<float>()[3], (11 * 7 % 256) / 255.0f);
}

TEST(DataIdx, RefusesCorruptFiles) {
  TempDir dir;
  const std::string good = idx_file(0x08, {3, 2, 2}, pixels(12));
  const std::string good_gz = gzip(good);
  std::string flipped_gz = good_gz;
  for (size_t i = 12; i < flipped_gz.size() - 8; ++i)
    flipped_gz[i] = static_cast<char>(~flipped_gz[i]);
  struct Case {
    std::string name;
    std::string bytes;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"empty", "", {"ends inside its header (0 bytes)"}},
      {"magic", "\x01\x02\x08\x03" + pixels(20), {"not an IDX file", "bad magic"}},
      {"type", idx_file(0x07, {3}, "abc"), {"unknown IDX data type 0x07"}},
      {"header_cut", good.substr(0, 9), {"ends inside its header"}},
      {"truncated", good.substr(0, good.size() - 5), {"truncated", "needs 12 bytes", "got 7"}},
      {"extra", good + "xyz", {"3 bytes after the data"}},
      {"truncated.gz",
       gzip(good.substr(0, good.size() - 5)),
       {"truncated", "needs 12 bytes", "got 7"}},
      {"extra.gz", gzip(good + "xyz"), {"more data than its shape"}},
      {"cut.gz", good_gz.substr(0, good_gz.size() / 2), {"gzip data is truncated"}},
      {"corrupt.gz", flipped_gz, {"corrupt gzip data"}},
      {"huge.gz",
       gzip(idx_file(0x08, {0xffffffff, 0xffffff}, "")),
       {"truncated", "compressed bytes"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    write_bytes(dir.file(c.name), c.bytes);
    std::vector<std::string> parts = c.parts;
    parts.push_back(c.name);  // the file name
    expect_open_error("idx:" + dir.file(c.name), ErrorKind::kInvalidArgument, parts);
  }
}

TEST(DataIdx, RefusesInconsistentPairs) {
  TempDir dir;
  write_bytes(dir.file("images"), idx_file(0x08, {3, 2, 2}, pixels(12)));
  write_bytes(dir.file("four_labels"), idx_file(0x08, {4}, pixels(4)));
  write_bytes(dir.file("float_labels"), idx_file(0x0D, {3}, std::string(12, '\0')));
  write_bytes(dir.file("int_images"), idx_file(0x0C, {3, 1}, std::string(12, '\0')));
  write_bytes(dir.file("labels_2d"), idx_file(0x08, {3, 1}, pixels(3)));
  const std::string images = dir.file("images");
  expect_open_error("idx:" + images + "," + dir.file("four_labels"), ErrorKind::kInvalidArgument,
                    {"have 3 samples", "have 4"});
  expect_open_error("idx:" + images + "," + dir.file("float_labels"), ErrorKind::kInvalidArgument,
                    {"float", "labels must be integers"});
  expect_open_error("idx:" + dir.file("int_images"), ErrorKind::kInvalidArgument,
                    {"int32", "expected uint8"});
  expect_open_error("idx:" + images + "," + dir.file("labels_2d"), ErrorKind::kInvalidArgument,
                    {"must have shape [N]"});
  expect_open_error("idx:" + images + "," + dir.file("missing"), ErrorKind::kIo,
                    {"missing", "does not exist"});
  expect_open_error("idx:" + dir.file("labels_2d") + ",", ErrorKind::kInvalidArgument,
                    {"comma-separated"});
}

// Sets an environment variable for the scope of a test.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(DataFmnist, TestSplit) {
  const char* env = std::getenv("QUENCH_FMNIST_DIR");
  const fs::path dir = env != nullptr && *env ? env : "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed in " << dir
                 << " (apt-get install dataset-fashion-mnist)";
  }
  const auto dataset = open_dataset("fmnist:test");
  EXPECT_EQ(dataset->size(), 10000);
  EXPECT_EQ(dataset->sample_shape(), (Shape{1, 28, 28}));
  ASSERT_TRUE(dataset->has_labels());
  ASSERT_EQ(dataset->class_names().size(), 10u);
  EXPECT_EQ(dataset->class_names()[9], "Ankle boot");
  const Batch first = dataset->batch(0, 2);
  EXPECT_EQ(first.labels, (std::vector<int64_t>{9, 2}));  // ankle boot, pullover
  const Batch last = dataset->batch(9999, 1);
  EXPECT_EQ(last.labels, (std::vector<int64_t>{5}));
  float low = 1, high = 0;
  for (float v : first.images().values<float>()) {
    low = std::min(low, v);
    high = std::max(high, v);
  }
  EXPECT_EQ(low, 0.0f);
  EXPECT_LE(high, 1.0f);
  EXPECT_GT(high, 0.9f);
}

TEST(DataFmnist, DirectoryFromEnvironment) {
  TempDir dir;
  write_bytes(dir.file("train-images-idx3-ubyte"),
              idx_file(0x08, {2, 1, 1}, std::string("\x00\xff", 2)));
  write_bytes(dir.file("train-labels-idx1-ubyte.gz"), gzip(idx_file(0x08, {2}, "\x03\x07")));
  const ScopedEnv env("QUENCH_FMNIST_DIR", dir.path().string());
  const Batch batch = open_dataset("fmnist:train")->batch(0, 2);
  EXPECT_EQ(batch.images().to_double_vector(), (std::vector<double>{0.0, 1.0}));
  EXPECT_EQ(batch.labels, (std::vector<int64_t>{3, 7}));
  expect_open_error("fmnist:test", ErrorKind::kIo,
                    {"t10k-images-idx3-ubyte.gz", "dataset-fashion-mnist", "QUENCH_FMNIST_DIR"});
  expect_open_error("fmnist:valid", ErrorKind::kInvalidArgument, {"fmnist:train or fmnist:test"});
}

}  // namespace
}  // namespace quench

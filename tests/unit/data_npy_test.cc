// .npy read/write: round trips for every dtype, numpy-written headers, and corrupt files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "core/half.h"
#include "quench/data.h"
#include "test_util.h"

namespace quench {
namespace {

using testing::TempDir;
namespace fs = std::filesystem;

// A fresh folder under the system temp folder, removed at the end of the test.
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A .npy file with `dict` as header (padded as numpy does) followed by `data`.
std::string npy_file(const std::string& dict, const std::string& data, int major = 1) {
  std::string header = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
  header.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (size_t i = 0; i < prefix - 8; ++i)
    out.push_back(static_cast<char>(header.size() >> (8 * i)));
  return out + header + data;
}

std::string float_bytes(std::initializer_list<float> values) {
  std::string out;
  for (float v : values) out.append(reinterpret_cast<const char*>(&v), sizeof(v));
  return out;
}

// Expects read_npy(path) to throw quench::Error of `kind` whose message holds the file name and
// every string in `parts`.
void expect_read_error(const std::string& path, ErrorKind kind,
                       const std::vector<std::string>& parts) {
  try {
    read_npy(path);
    ADD_FAILURE() << "read_npy('" << path << "') did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), kind) << e.what();
    const std::string message = e.what();
    EXPECT_NE(message.find(fs::path(path).filename().string()), std::string::npos) << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
}

template <class T>
Tensor extremes(Shape shape) {
  std::vector<T> values;
  const int64_t n = shape_numel(shape);
  for (int64_t i = 0; i < n; ++i) {
    switch (i % 3) {
      case 0:
        values.push_back(std::numeric_limits<T>::lowest());
        break;
      case 1:
        values.push_back(std::numeric_limits<T>::max());
        break;
      default:
        values.push_back(static_cast<T>(i));
        break;
    }
  }
  return Tensor::from_vector<T>(std::move(shape), values);
}

TEST(DataNpy, RoundTripEveryDtype) {
  TempDir dir;
  std::vector<Tensor> tensors = {
      extremes<float>({2, 3}),
      extremes<double>({4}),
      extremes<uint8_t>({3, 1, 2}),
      extremes<int8_t>({5}),
      extremes<int16_t>({2, 2}),
      extremes<uint16_t>({3}),
      extremes<int32_t>({1, 4}),
      extremes<uint32_t>({2}),
      extremes<int64_t>({3, 2}),
      extremes<uint64_t>({2, 1}),
      Tensor::scalar<float>(2.5f),
      Tensor::zeros(DType::kFloat32, {0, 3}),
      Tensor::from_vector<bool>({4}, {true, false, false, true}),
  };
  Tensor half = Tensor::empty(DType::kFloat16, {3});
  const std::vector<uint16_t> half_bits = {float_to_half(1.5f), float_to_half(-65504.0f),
                                           float_to_half(0.0f)};
  std::memcpy(half.raw_data(), half_bits.data(), half.nbytes());
  tensors.push_back(half);

  for (size_t i = 0; i < tensors.size(); ++i) {
    const std::string path = dir.file(fmt::format("t{}.npy", i));
    write_npy(tensors[i], path);
    const std::string bytes = read_bytes(path);
    ASSERT_GE(bytes.size(), 10u);
    const size_t header_length =
        static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
    EXPECT_EQ((10 + header_length) % 64, 0u) << "data is not 64-byte aligned";
    const Tensor back = read_npy(path);
    EXPECT_TRUE(back.equals(tensors[i]))
        << dtype_name(tensors[i].dtype()) << " " << shape_str(tensors[i].shape())
        << " came back as " << dtype_name(back.dtype()) << " " << shape_str(back.shape());
  }
}

TEST(DataNpy, WritesTheHeaderNumpyWrites) {
  TempDir dir;
  write_npy(Tensor::from_vector<int64_t>({3}, {1, 2, 3}), dir.file("a.npy"));
  const std::string bytes = read_bytes(dir.file("a.npy"));
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
  EXPECT_EQ(bytes.substr(10, dict.size()), dict);
  EXPECT_EQ(bytes.substr(10 + dict.size(), 127 - 10 - dict.size()),
            std::string(127 - 10 - dict.size(), ' '));
  EXPECT_EQ(bytes[127], '\n');
  EXPECT_EQ(bytes.size(), 128u + 3 * 8);
}

TEST(DataNpy, ReadsOtherHeaderSpellings) {
  TempDir dir;
  const std::string data = float_bytes({1, 2, 3, 4, 5, 6});
  const Tensor want = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6});
  const std::vector<std::pair<std::string, int>> cases = {
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 1},
      {"{\"shape\": (2,3), \"descr\": \"<f4\", \"fortran_order\": False}", 1},
      {"{'descr':'=f4','fortran_order':False,'shape':(2L, 3L)}", 1},  // Python 2 longs
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 2},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 3},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::string path = dir.file(fmt::format("h{}.npy", i));
    write_bytes(path, npy_file(cases[i].first, data, cases[i].second));
    EXPECT_TRUE(read_npy(path).equals(want)) << cases[i].first;
  }
  // Fortran order of a single row is the same bytes as C order.
  write_bytes(dir.file("row.npy"),
              npy_file("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 6), }", data));
  EXPECT_EQ(read_npy(dir.file("row.npy")).shape(), (Shape{1, 6}));
  // A one-byte type may carry any byte order mark.
  write_bytes(dir.file("u1.npy"),
              npy_file("{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", "\x07\x09"));
  EXPECT_EQ(read_npy(dir.file("u1.npy")).to_int64_vector(), (std::vector<int64_t>{7, 9}));
}

TEST(DataNpy, NonzeroBoolBytesReadAsTrue) {
  TempDir dir;
  write_bytes(dir.file("b.npy"),
              npy_file("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }",
                       std::string("\x00\x01\x05", 3)));
  EXPECT_EQ(read_npy(dir.file("b.npy")).to_int64_vector(), (std::vector<int64_t>{0, 1, 1}));
}

TEST(DataNpy, RefusesBadFiles) {
  TempDir dir;
  const std::string data6 = float_bytes({1, 2, 3, 4, 5, 6});
  const auto header = [](const std::string& descr, const std::string& shape,
                         const std::string& order = "False") {
    return "{'descr': '" + descr + "', 'fortran_order': " + order + ", 'shape': " + shape + ", }";
  };
  struct Case {
    std::string name;
    std::string bytes;
    ErrorKind kind;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {"empty.npy", "", ErrorKind::kInvalidArgument, {"not a .npy file"}},
      {"magic.npy", "PK\x03\x04 this is a zip file", ErrorKind::kInvalidArgument, {"bad magic"}},
      {"version.npy",
       std::string("\x93NUMPY\x04\x00\x10\x00", 10) + std::string(16, ' '),
       ErrorKind::kUnsupported,
       {"version 4.0"}},
      {"header_cut.npy",
       npy_file(header("<f4", "(2, 3)"), data6).substr(0, 40),
       ErrorKind::kInvalidArgument,
       {"header needs 128 bytes", "has 40"}},
      {"truncated.npy",
       npy_file(header("<f4", "(2, 3)"), data6.substr(0, 8)),
       ErrorKind::kInvalidArgument,
       {"truncated", "needs 24 bytes", "has 8"}},
      {"extra.npy",
       npy_file(header("<f4", "(1, 3)"), data6),
       ErrorKind::kInvalidArgument,
       {"12 bytes after the data"}},
      {"huge.npy",
       npy_file(header("<f4", "(4294967296, 4294967296)"), data6),
       ErrorKind::kResource,
       {"too large"}},
      {"overflow.npy",
       npy_file(header("<f4", "(99999999999999999999,)"), data6),
       ErrorKind::kResource,
       {"too large"}},
      {"negative.npy",
       npy_file(header("<f4", "(-1, 3)"), data6),
       ErrorKind::kInvalidArgument,
       {"negative dimension"}},
      {"dtype.npy",
       npy_file(header("<c8", "(3,)"), data6),
       ErrorKind::kUnsupported,
       {"unsupported npy dtype '<c8'"}},
      {"string.npy", npy_file(header("<U3", "(2,)"), data6), ErrorKind::kUnsupported, {"'<U3'"}},
      {"structured.npy",
       npy_file("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", data6),
       ErrorKind::kUnsupported,
       {"structured"}},
      {"bigendian.npy",
       npy_file(header(">f4", "(2, 3)"), data6),
       ErrorKind::kUnsupported,
       {"big-endian"}},
      {"fortran.npy",
       npy_file(header("<f4", "(2, 3)", "True"), data6),
       ErrorKind::kUnsupported,
       {"Fortran"}},
      {"missing_key.npy",
       npy_file("{'descr': '<f4', 'shape': (6,), }", data6),
       ErrorKind::kInvalidArgument,
       {"missing key 'fortran_order'"}},
      {"extra_key.npy",
       npy_file("{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}", data6),
       ErrorKind::kInvalidArgument,
       {"unexpected key 'x'"}},
      {"unterminated.npy",
       npy_file("{'descr': '<f4", data6),
       ErrorKind::kInvalidArgument,
       {"unterminated string"}},
      {"not_dict.npy", npy_file("[1, 2, 3]", data6), ErrorKind::kInvalidArgument, {"expected '{'"}},
      {"bad_bool.npy",
       npy_file(header("<f4", "(6,)", "0"), data6),
       ErrorKind::kInvalidArgument,
       {"True or False"}},
      {"bad_shape.npy",
       npy_file(header("<f4", "(2, x)"), data6),
       ErrorKind::kInvalidArgument,
       {"expected a dimension"}},
      {"trailing.npy",
       npy_file(header("<f4", "(6,)") + " junk", data6),
       ErrorKind::kInvalidArgument,
       {"after the dict"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    write_bytes(dir.file(c.name), c.bytes);
    expect_read_error(dir.file(c.name), c.kind, c.parts);
  }
  expect_read_error(dir.file("missing.npy"), ErrorKind::kIo, {"does not exist"});
}

TEST(DataNpy, WriteErrors) {
  TempDir dir;
  Tensor bf16 = Tensor::zeros(DType::kBFloat16, {2});
  EXPECT_THROW(write_npy(bf16, dir.file("b.npy")), Error);
  EXPECT_THROW(write_npy(Tensor(), dir.file("u.npy")), Error);
  EXPECT_FALSE(fs::exists(dir.file("b.npy")));
  try {
    write_npy(Tensor::scalar<float>(1.0f), (dir.path() / "no_such_folder" / "x.npy").string());
    ADD_FAILURE() << "writing into a missing folder did not throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("no_such_folder"), std::string::npos) << e.what();
  }
}

TEST(DataNpy, OverwritesAtomically) {
  TempDir dir;
  const std::string path = dir.file("a.npy");
  write_npy(Tensor::from_vector<int32_t>({2}, {1, 2}), path);
  write_npy(Tensor::from_vector<float>({1}, {7.0f}), path);
  EXPECT_TRUE(read_npy(path).equals(Tensor::from_vector<float>({1}, {7.0f})));
  int files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(fs::path(path).parent_path()))
    ++files;
  EXPECT_EQ(files, 1) << "a temporary file was left behind";
}

}  // namespace
}  // namespace quench

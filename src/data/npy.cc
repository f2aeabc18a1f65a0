// NumPy .npy format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#include <array>
#include <cctype>
#include <cstring>
#include <optional>
#include <ostream>

#include "core/check.h"
#include "core/file_util.h"
#include "core/resource_check.h"
#include "data/npy_format.h"
#include "quench/data.h"

namespace quench {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// numpy pads the header so that the data starts at a multiple of this.
constexpr size_t kHeaderAlign = 64;
// numpy refuses longer headers too (they would only come from corrupt or hostile files).
constexpr uint32_t kMaxHeaderBytes = 1 << 20;

struct NpyType {
  std::string_view descr;  // as numpy writes it
  DType dtype;
};

constexpr std::array<NpyType, 12> kTypes = {{
    {"<f4", DType::kFloat32},
    {"<f8", DType::kFloat64},
    {"<f2", DType::kFloat16},
    {"|u1", DType::kUInt8},
    {"|i1", DType::kInt8},
    {"<i2", DType::kInt16},
    {"<u2", DType::kUInt16},
    {"<i4", DType::kInt32},
    {"<u4", DType::kUInt32},
    {"<i8", DType::kInt64},
    {"<u8", DType::kUInt64},
    {"|b1", DType::kBool},
}};

// A dtype from a descr string. Byte order marks: '<' little, '|' not applicable, '=' native
// (little-endian on every machine quench builds for), '>' big.
DType parse_descr(const std::string& descr, const std::string& path) {
  QUENCH_CHECK(descr.size() >= 3, ErrorKind::kUnsupported,
               "'{}': unsupported npy dtype '{}' (structured and string dtypes are not supported)",
               path, descr);
  const char order = descr[0];
  const std::string_view code = std::string_view(descr).substr(1);
  for (const NpyType& type : kTypes) {
    if (code != type.descr.substr(1)) continue;
    if (dtype_size(type.dtype) == 1) {
      if (order == '<' || order == '>' || order == '=' || order == '|') return type.dtype;
    } else {
      if (order == '<' || order == '=') return type.dtype;
      if (order == '>') {
        fail(ErrorKind::kUnsupported,
             "'{}': big-endian npy data ('{}') is not supported; save it little-endian "
             "(array.astype('<{}'))",
             path, descr, code);
      }
    }
    break;
  }
  fail(ErrorKind::kUnsupported,
       "'{}': unsupported npy dtype '{}' (supported: <f4 <f8 <f2 |u1 |i1 <i2 <u2 <i4 <u4 <i8 "
       "<u8 |b1)",
       path, descr);
}

// The header dict is a Python literal: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : text_(text), path_(path) {}

  struct Dict {
    std::optional<std::string> descr;
    std::optional<bool> fortran_order;
    std::optional<Shape> shape;
  };

  Dict parse() {
    Dict dict;
    expect('{');
    while (!peek('}')) {
      const std::string key = string_literal();
      expect(':');
      if (key == "descr") {
        QUENCH_CHECK(!dict.descr, ErrorKind::kInvalidArgument, "'{}': npy header repeats 'descr'",
                     path_);
        if (peek('[')) {
          fail(ErrorKind::kUnsupported, "'{}': structured npy dtypes are not supported", path_);
        }
        dict.descr = string_literal();
      } else if (key == "fortran_order") {
        QUENCH_CHECK(!dict.fortran_order, ErrorKind::kInvalidArgument,
                     "'{}': npy header repeats 'fortran_order'", path_);
        dict.fortran_order = boolean();
      } else if (key == "shape") {
        QUENCH_CHECK(!dict.shape, ErrorKind::kInvalidArgument, "'{}': npy header repeats 'shape'",
                     path_);
        dict.shape = tuple();
      } else {
        malformed(fmt::format("unexpected key '{}'", key));
      }
      if (!peek('}')) expect(',');
    }
    expect('}');
    skip_space();
    QUENCH_CHECK(pos_ == text_.size(), ErrorKind::kInvalidArgument,
                 "'{}': malformed npy header: unexpected text after the dict at byte {}", path_,
                 pos_);
    if (!dict.descr) malformed("missing key 'descr'");
    if (!dict.fortran_order) malformed("missing key 'fortran_order'");
    if (!dict.shape) malformed("missing key 'shape'");
    return dict;
  }

 private:
  [[noreturn]] void malformed(const std::string& what) const {
    fail(ErrorKind::kInvalidArgument, "'{}': malformed npy header: {} (header: {})", path_, what,
         text_.substr(0, 200));
  }

  void skip_space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool peek(char c) {
    skip_space();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  void expect(char c) {
    if (!peek(c)) {
      malformed(pos_ < text_.size()
                    ? fmt::format("expected '{}' at byte {}, got '{}'", c, pos_, text_[pos_])
                    : fmt::format("expected '{}' at byte {}, got the end", c, pos_));
    }
    ++pos_;
  }

  std::string string_literal() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      malformed(fmt::format("expected a quoted string at byte {}", pos_));
    }
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) malformed("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }

  bool boolean() {
    skip_space();
    for (auto [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      const std::string_view w(word);
      if (text_.substr(pos_, w.size()) == w) {
        pos_ += w.size();
        return value;
      }
    }
    malformed(fmt::format("expected True or False at byte {}", pos_));
  }

  int64_t integer() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '-') {
      malformed(fmt::format("negative dimension at byte {}", pos_));
    }
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
      const int digit = text_[pos_] - '0';
      if (value > (INT64_MAX - digit) / 10) {
        fail(ErrorKind::kResource, "'{}': npy dimension '{}...' is too large", path_,
             text_.substr(start, pos_ - start + 1));
      }
      value = value * 10 + digit;
      ++pos_;
    }
    if (pos_ == start) malformed(fmt::format("expected a dimension at byte {}", pos_));
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;  // Python 2 long literal
    return value;
  }

  Shape tuple() {
    Shape shape;
    expect('(');
    while (!peek(')')) {
      shape.push_back(integer());
      if (!peek(')')) expect(',');
    }
    expect(')');
    return shape;
  }

  std::string_view text_;
  const std::string& path_;
  size_t pos_ = 0;
};

uint32_t read_le(const unsigned char* bytes, int count) {
  uint32_t value = 0;
  for (int i = count - 1; i >= 0; --i) value = value << 8 | bytes[i];
  return value;
}

std::string descr_of(DType dtype) {
  for (const NpyType& type : kTypes) {
    if (type.dtype == dtype) return std::string(type.descr);
  }
  fail(ErrorKind::kUnsupported, "cannot write tensors of type {} to .npy (numpy has no such type)",
       dtype_name(dtype));
}

}  // namespace

NpyHeader read_npy_header(const RandomAccessFile& file) {
  const std::string& path = file.path();
  constexpr size_t kPrefix = 10;  // magic (6), version (2), header length (2 in version 1)
  std::array<unsigned char, 12> prefix{};
  QUENCH_CHECK(file.size() >= kPrefix, ErrorKind::kInvalidArgument,
               "'{}' is not a .npy file: it has only {} bytes", path, file.size());
  file.read_exact(0, kPrefix, prefix.data());
  QUENCH_CHECK(std::memcmp(prefix.data(), kMagic.data(), kMagic.size()) == 0,
               ErrorKind::kInvalidArgument, "'{}' is not a .npy file (bad magic)", path);
  const int major = prefix[6];
  const int minor = prefix[7];
  QUENCH_CHECK(major >= 1 && major <= 3 && minor == 0, ErrorKind::kUnsupported,
               "'{}': unsupported npy format version {}.{} (supported: 1.0, 2.0, 3.0)", path, major,
               minor);
  uint64_t header_start = kPrefix;
  uint32_t header_bytes = 0;
  if (major == 1) {
    header_bytes = read_le(prefix.data() + 8, 2);
  } else {
    QUENCH_CHECK(file.size() >= 12, ErrorKind::kInvalidArgument,
                 "'{}': npy file ends inside its header", path);
    file.read_exact(kPrefix, 2, prefix.data() + kPrefix);
    header_bytes = read_le(prefix.data() + 8, 4);
    header_start = 12;
  }
  QUENCH_CHECK(header_bytes <= kMaxHeaderBytes, ErrorKind::kInvalidArgument,
               "'{}': npy header length {} is larger than the limit of {}", path, header_bytes,
               kMaxHeaderBytes);
  QUENCH_CHECK(header_start + header_bytes <= file.size(), ErrorKind::kInvalidArgument,
               "'{}': npy file is truncated: its header needs {} bytes, the file has {}", path,
               header_start + header_bytes, file.size());
  std::string text(header_bytes, '\0');
  file.read_exact(header_start, header_bytes, text.data());

  const HeaderParser::Dict dict = HeaderParser(text, path).parse();
  NpyHeader header;
  header.dtype = parse_descr(*dict.descr, path);
  header.shape = *dict.shape;
  header.data_offset = header_start + header_bytes;

  int dims_above_one = 0;
  for (int64_t d : header.shape) dims_above_one += d > 1;
  // Fortran and C order lay out the same bytes when at most one dimension exceeds 1.
  QUENCH_CHECK(!*dict.fortran_order || dims_above_one <= 1, ErrorKind::kUnsupported,
               "'{}': Fortran-order npy data is not supported; save it in C order "
               "(numpy.ascontiguousarray)",
               path);

  const uint64_t item = dtype_size(header.dtype);
  uint64_t bytes = item;
  for (int64_t d : header.shape) {
    const auto dim = static_cast<uint64_t>(d);
    if (dim != 0 && bytes > UINT64_MAX / dim) {
      fail(ErrorKind::kResource, "'{}': npy shape {} is too large", path, shape_str(header.shape));
    }
    bytes *= dim;
  }
  header.data_bytes = bytes;
  const uint64_t available = file.size() - header.data_offset;
  QUENCH_CHECK(
      available >= bytes, ErrorKind::kInvalidArgument,
      "'{}': npy file is truncated: shape {} of {} needs {} bytes of data, the file has {}", path,
      shape_str(header.shape), *dict.descr, bytes, available);
  QUENCH_CHECK(available == bytes, ErrorKind::kInvalidArgument,
               "'{}': npy file has {} bytes after the data of shape {} ({} bytes); the header does "
               "not match the data",
               path, available - bytes, shape_str(header.shape), bytes);
  return header;
}

Tensor read_npy(const std::filesystem::path& path) {
  const RandomAccessFile file(path, ".npy file");
  const NpyHeader header = read_npy_header(file);
  check_tensor_fits(header.dtype, header.shape, fmt::format("'{}'", path.string()));
  Tensor tensor = Tensor::empty(header.dtype, header.shape);
  file.read_exact(header.data_offset, header.data_bytes, tensor.raw_data());
  if (header.dtype == DType::kBool) {
    auto* bytes = static_cast<uint8_t*>(tensor.raw_data());
    for (int64_t i = 0; i < tensor.numel(); ++i) bytes[i] = bytes[i] != 0;
  }
  return tensor;
}

std::string make_npy_header(DType dtype, const Shape& shape) {
  std::string dims;
  for (int64_t d : shape) dims += fmt::format("{}, ", d);
  if (shape.size() > 1) dims.resize(dims.size() - 2);  // (2, 3); a 1-tuple keeps its comma: (2,)
  if (shape.size() == 1) dims.pop_back();
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}), }}",
                                 descr_of(dtype), dims);
  // The dict ends with '\n' and is padded with spaces so that the data starts aligned.
  const auto padded_length = [&](size_t prefix) {
    return (prefix + dict.size() + 1 + kHeaderAlign - 1) / kHeaderAlign * kHeaderAlign - prefix;
  };
  size_t prefix = 10;
  size_t length = padded_length(prefix);
  if (length > 65535) {  // does not fit version 1.0's 16-bit length
    prefix = 12;
    length = padded_length(prefix);
  }
  dict.append(length - dict.size() - 1, ' ');
  dict.push_back('\n');

  std::string out(kMagic);
  out.push_back(static_cast<char>(prefix == 10 ? 1 : 2));
  out.push_back('\0');
  for (size_t i = 0; i < prefix - 8; ++i)
    out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  return out + dict;
}

void write_npy(const Tensor& tensor, const std::filesystem::path& path) {
  QUENCH_CHECK(tensor.defined(), ErrorKind::kInvalidArgument,
               "cannot write an undefined tensor to '{}'", path.string());
  const std::string header = make_npy_header(tensor.dtype(), tensor.shape());
  write_file_atomic(path, [&](std::ostream& out) {
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(static_cast<const char*>(tensor.raw_data()),
              static_cast<std::streamsize>(tensor.nbytes()));
  });
}

}  // namespace quench

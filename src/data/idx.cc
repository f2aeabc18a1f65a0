// IDX files (the MNIST format): 00 00 TYPE NDIMS, NDIMS big-endian uint32 dims, then the data,
// big-endian, in C order.
#include <array>

#include "core/check.h"
#include "core/file_util.h"
#include "core/resource_check.h"
#include "data/gzip.h"
#include "data/stored_array.h"

namespace quench {
namespace {

// deflate cannot expand data by more than this (RFC 1951 blocks: 258 bytes from 2 bits,
// rounded up), so a header asking for more than input * kMaxDeflateRatio is a truncated file.
constexpr uint64_t kMaxDeflateRatio = 1100;

DType idx_dtype(int code, const std::string& path) {
  switch (code) {
    case 0x08:
      return DType::kUInt8;
    case 0x09:
      return DType::kInt8;
    case 0x0B:
      return DType::kInt16;
    case 0x0C:
      return DType::kInt32;
    case 0x0D:
      return DType::kFloat32;
    case 0x0E:
      return DType::kFloat64;
    default:
      fail(ErrorKind::kInvalidArgument,
           "'{}': unknown IDX data type 0x{:02x} (expected 08, 09, 0B, 0C, 0D or 0E)", path, code);
  }
}

struct IdxHeader {
  ElementFormat format;
  Shape shape;
  uint64_t header_bytes = 0;
  uint64_t data_bytes = 0;
};

// `read(offset, bytes, dst)` reads header bytes; it fails itself when the file is too short.
template <class ReadFn>
IdxHeader read_idx_header(const std::string& path, ReadFn&& read) {
  std::array<unsigned char, 4> magic{};
  read(0, 4, magic.data());
  QUENCH_CHECK(magic[0] == 0 && magic[1] == 0, ErrorKind::kInvalidArgument,
               "'{}' is not an IDX file (bad magic {:02x} {:02x}, expected 00 00)", path, magic[0],
               magic[1]);
  IdxHeader header;
  header.format = ElementFormat{idx_dtype(magic[2], path), true};
  const int rank = magic[3];
  QUENCH_CHECK(rank >= 1, ErrorKind::kInvalidArgument, "'{}': IDX file has 0 dimensions", path);
  std::vector<unsigned char> dims(4 * static_cast<size_t>(rank));
  read(4, dims.size(), dims.data());
  uint64_t bytes = dtype_size(header.format.dtype);
  for (int axis = 0; axis < rank; ++axis) {
    const unsigned char* d = &dims[4 * static_cast<size_t>(axis)];
    const uint64_t dim = uint64_t{d[0]} << 24 | uint64_t{d[1]} << 16 | uint64_t{d[2]} << 8 | d[3];
    header.shape.push_back(static_cast<int64_t>(dim));
    if (dim != 0 && bytes > UINT64_MAX / dim) {
      fail(ErrorKind::kResource, "'{}': IDX shape is too large", path);
    }
    bytes *= dim;
  }
  header.header_bytes = 4 + dims.size();
  header.data_bytes = bytes;
  return header;
}

std::string truncated_message(const std::string& path, const IdxHeader& header, uint64_t got) {
  return fmt::format("'{}': IDX file is truncated: shape {} of {} needs {} bytes of data, got {}",
                     path, shape_str(header.shape), dtype_name(header.format.dtype),
                     header.data_bytes, got);
}

StoredArray open_gzipped(const std::string& path, const std::string& compressed) {
  GzipReader reader(compressed, path);
  const IdxHeader header = read_idx_header(path, [&](uint64_t offset, uint64_t bytes, void* dst) {
    const uint64_t got = reader.read(dst, bytes);
    QUENCH_CHECK(got == bytes, ErrorKind::kInvalidArgument,
                 "'{}': IDX file ends inside its header ({} bytes)", path, offset + got);
  });
  const uint64_t most = compressed.size() * kMaxDeflateRatio;
  QUENCH_CHECK(header.data_bytes <= most, ErrorKind::kInvalidArgument,
               "'{}': IDX file is truncated: shape {} needs {} bytes of data, more than {} "
               "compressed bytes can hold",
               path, shape_str(header.shape), header.data_bytes, compressed.size());
  check_buffer_bytes(header.data_bytes, fmt::format("'{}': gzipped IDX data of shape {}", path,
                                                    shape_str(header.shape)));
  auto bytes = std::make_shared<std::vector<unsigned char>>(header.data_bytes);
  const uint64_t got = reader.read(bytes->data(), header.data_bytes);
  QUENCH_CHECK(got == header.data_bytes, ErrorKind::kInvalidArgument, "{}",
               truncated_message(path, header, got));
  unsigned char extra = 0;
  QUENCH_CHECK(reader.read(&extra, 1) == 0, ErrorKind::kInvalidArgument,
               "'{}': IDX file has more data than its shape {} needs ({} bytes)", path,
               shape_str(header.shape), header.data_bytes);
  return StoredArray(path, header.format, header.shape, std::move(bytes));
}

}  // namespace

StoredArray open_idx_array(const std::string& path) {
  auto file = std::make_shared<const RandomAccessFile>(path, "IDX file");
  std::string start(std::min<uint64_t>(file->size(), 2), '\0');
  file->read_exact(0, start.size(), start.data());
  if (is_gzip(start)) return open_gzipped(path, read_file(path, "IDX file"));

  const IdxHeader header = read_idx_header(path, [&](uint64_t offset, uint64_t bytes, void* dst) {
    QUENCH_CHECK(offset + bytes <= file->size(), ErrorKind::kInvalidArgument,
                 "'{}': IDX file ends inside its header ({} bytes)", path, file->size());
    file->read_exact(offset, bytes, dst);
  });
  const uint64_t available = file->size() - header.header_bytes;
  QUENCH_CHECK(available >= header.data_bytes, ErrorKind::kInvalidArgument, "{}",
               truncated_message(path, header, available));
  QUENCH_CHECK(available == header.data_bytes, ErrorKind::kInvalidArgument,
               "'{}': IDX file has {} bytes after the data of shape {}; the header does not match "
               "the data",
               path, available - header.data_bytes, shape_str(header.shape));
  return StoredArray(path, header.format, header.shape, std::move(file), header.header_bytes);
}

}  // namespace quench

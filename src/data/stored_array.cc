#include "data/stored_array.h"

#include <cstring>

#include "core/check.h"
#include "core/resource_check.h"
#include "data/npy_format.h"

namespace quench {
namespace {

uint64_t row_bytes_of(const Shape& shape, DType dtype) {
  uint64_t bytes = dtype_size(dtype);
  for (size_t axis = 1; axis < shape.size(); ++axis) bytes *= static_cast<uint64_t>(shape[axis]);
  return bytes;
}

}  // namespace

StoredArray::StoredArray(std::string path, ElementFormat format, Shape shape,
                         std::shared_ptr<const std::vector<unsigned char>> bytes)
    : path_(std::move(path)),
      format_(format),
      shape_(std::move(shape)),
      row_bytes_(row_bytes_of(shape_, format.dtype)),
      bytes_(std::move(bytes)) {}

StoredArray::StoredArray(std::string path, ElementFormat format, Shape shape,
                         std::shared_ptr<const RandomAccessFile> file, uint64_t offset)
    : path_(std::move(path)),
      format_(format),
      shape_(std::move(shape)),
      row_bytes_(row_bytes_of(shape_, format.dtype)),
      file_(std::move(file)),
      offset_(offset) {}

void StoredArray::read_rows(int64_t first, int64_t count, void* dst) const {
  QUENCH_CHECK(first >= 0 && count >= 0 && first + count <= rows(), ErrorKind::kInternal,
               "rows [{}, {}) of '{}' are out of range (it has {})", first, first + count, path_,
               rows());
  const uint64_t begin = static_cast<uint64_t>(first) * row_bytes_;
  const uint64_t bytes = static_cast<uint64_t>(count) * row_bytes_;
  if (bytes == 0) return;
  if (bytes_) {
    std::memcpy(dst, bytes_->data() + begin, bytes);
  } else {
    file_->read_exact(offset_ + begin, bytes, dst);
  }
}

std::vector<int64_t> StoredArray::read_all_int64(std::string_view what) const {
  QUENCH_CHECK(label_dtype_ok(format_.dtype), ErrorKind::kInvalidArgument,
               "{} '{}' holds {} values; labels must be integers", what, path_,
               dtype_name(format_.dtype));
  const int64_t count = shape_numel(shape_);
  // The raw bytes and the int64 copy are both held at once.
  check_buffer_bytes(static_cast<uint64_t>(count) * (sizeof(int64_t) + dtype_size(format_.dtype)),
                     fmt::format("{} '{}' of shape {}", what, path_, shape_str(shape_)));
  std::vector<unsigned char> raw(static_cast<size_t>(count) * dtype_size(format_.dtype));
  read_rows(0, rows(), raw.data());
  std::vector<int64_t> values(static_cast<size_t>(count));
  convert_to_int64(raw.data(), count, format_, values.data());
  return values;
}

StoredArray open_npy_array(const std::string& path) {
  auto file = std::make_shared<const RandomAccessFile>(path, ".npy file");
  const NpyHeader header = read_npy_header(*file);
  return StoredArray(path, ElementFormat{header.dtype, false}, header.shape, std::move(file),
                     header.data_offset);
}

}  // namespace quench

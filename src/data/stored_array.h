// An array [N, ...] stored in a data file, read a range of rows at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/elements.h"
#include "data/random_access_file.h"
#include "quench/tensor.h"

namespace quench {

class StoredArray {
 public:
  // Rows in memory (decompressed files).
  StoredArray(std::string path, ElementFormat format, Shape shape,
              std::shared_ptr<const std::vector<unsigned char>> bytes);
  // Rows read from `file` at `offset` on demand.
  StoredArray(std::string path, ElementFormat format, Shape shape,
              std::shared_ptr<const RandomAccessFile> file, uint64_t offset);

  const std::string& path() const { return path_; }
  ElementFormat format() const { return format_; }
  const Shape& shape() const { return shape_; }
  int64_t rows() const { return shape_.empty() ? 1 : shape_[0]; }
  uint64_t row_bytes() const { return row_bytes_; }

  // Copies the stored bytes of rows [first, first + count) to `dst`. Thread-safe.
  void read_rows(int64_t first, int64_t count, void* dst) const;
  // Every element as int64 (labels); kInvalidArgument naming `what` for non-integer data.
  std::vector<int64_t> read_all_int64(std::string_view what) const;

 private:
  std::string path_;
  ElementFormat format_;
  Shape shape_;
  uint64_t row_bytes_ = 0;
  std::shared_ptr<const std::vector<unsigned char>> bytes_;
  std::shared_ptr<const RandomAccessFile> file_;
  uint64_t offset_ = 0;
};

// The .npy file at `path` as rows (C order, so rows are contiguous).
StoredArray open_npy_array(const std::string& path);

// An IDX file (the MNIST format), gzipped or not.
StoredArray open_idx_array(const std::string& path);

}  // namespace quench

// The .npy header: parsing (for read_npy and npy datasets, which read rows lazily) and writing.
#pragma once

#include <cstdint>
#include <string>

#include "data/random_access_file.h"
#include "quench/tensor.h"

namespace quench {

struct NpyHeader {
  DType dtype = DType::kUndefined;
  Shape shape;
  uint64_t data_offset = 0;  // where the data starts in the file
  uint64_t data_bytes = 0;   // numel * element size
};

// Reads and checks the header of `file`, including that the file holds exactly `data_bytes`
// after it. quench::Error naming the file for every malformed or unsupported header.
NpyHeader read_npy_header(const RandomAccessFile& file);

// The complete header (magic, version, length, padded dict) for a C-order array.
std::string make_npy_header(DType dtype, const Shape& shape);

}  // namespace quench

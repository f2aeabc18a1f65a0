// IDX reader, plain and gzipped (zlib through quench's GzipReader).
#include <vector>

#include "data/stored_array.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  const auto path = fuzz::as_file(data, size, ".idx");
  try {
    const StoredArray array = open_idx_array(path.string());
    if (array.rows() > 0) {
      std::vector<unsigned char> rows(static_cast<size_t>(array.row_bytes()) * 1);
      array.read_rows(0, 1, rows.data());
      array.read_rows(array.rows() - 1, 1, rows.data());
    }
  } catch (const Error&) {
  }
  return 0;
}

// .npy reader: the whole-array read and the row-wise reader the datasets use.
#include <cstring>
#include <vector>

#include "data/stored_array.h"
#include "fuzz_input.h"
#include "quench/data.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  const auto path = fuzz::as_file(data, size, ".npy");
  try {
    const Tensor t = read_npy(path);
    // Every byte of the result is read (ASan sees reads past the buffer).
    volatile uint8_t sum = 0;
    const auto* bytes = static_cast<const uint8_t*>(t.raw_data());
    for (size_t i = 0; i < t.nbytes(); ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
  } catch (const Error&) {
  }
  try {
    const StoredArray array = open_npy_array(path.string());
    if (array.rows() > 0) {
      std::vector<unsigned char> row(static_cast<size_t>(array.row_bytes()));
      array.read_rows(array.rows() - 1, 1, row.data());
    }
  } catch (const Error&) {
  }
  return 0;
}

// Calibration table JSON: the table file, and one observer's state, then what is computed from
// a loaded table (ranges, a merge with itself, the TensorRT cache written from it).
#include "fuzz_input.h"
#include "quench/calibration.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  try {
    CalibrationTable table = CalibrationTable::load(fuzz::as_file(data, size, ".json"));
    for (const auto& [name, observer] : table.observers) observer.range();
    const CalibrationTable copy = CalibrationTable::load(fuzz::as_file(data, size, ".json"));
    table.merge(copy);
    table.save_tensorrt_cache(fuzz::as_file(data, 0, ".cache"));
  } catch (const Error&) {
  }
  try {
    Observer::from_json(std::string_view(reinterpret_cast<const char*>(data), size)).range();
  } catch (const Error&) {
  }
  return 0;
}

// Recipe JSON (quench quantize --recipe).
#include "fuzz_input.h"
#include "quench/quantize.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  try {
    QuantRecipe::load(fuzz::as_file(data, size, ".json"));
  } catch (const Error&) {
  }
  return 0;
}

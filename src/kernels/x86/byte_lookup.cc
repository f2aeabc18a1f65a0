#include "kernels/x86/byte_lookup.h"

#include "kernels/x86/cpu_features.h"

namespace quench::x86 {

void byte_lookup(const uint8_t* table, const uint8_t* x, uint8_t* y, int64_t count, uint8_t flip) {
  static const bool vbmi = cpu_features().avx512_vbmi;
  if (vbmi) return avx512vbmi::byte_lookup(table, x, y, count, flip);
  for (int64_t i = 0; i < count; ++i) y[i] = table[x[i] ^ flip];
}

const char* byte_lookup_isa() { return cpu_features().avx512_vbmi ? "avx512vbmi" : "baseline"; }

}  // namespace quench::x86

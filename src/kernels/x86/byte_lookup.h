// y[i] = table[x[i] ^ flip] for bytes: the 256-entry tables of QLookup (u8 and s8 alike; flip is
// 0x80 for s8 indices, x − (−128) = x XOR 0x80). With AVX-512 VBMI, 64 bytes per step as byte
// permutes; elsewhere one byte at a time.
#pragma once

#include <cstdint>

namespace quench::x86 {

void byte_lookup(const uint8_t* table, const uint8_t* x, uint8_t* y, int64_t count, uint8_t flip);

// Which instruction set byte_lookup runs on here ("avx512vbmi", "baseline").
const char* byte_lookup_isa();

namespace avx512vbmi {
void byte_lookup(const uint8_t* table, const uint8_t* x, uint8_t* y, int64_t count, uint8_t flip);
}  // namespace avx512vbmi

}  // namespace quench::x86

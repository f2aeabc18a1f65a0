// Binary PGM/PPM images (P5/P6), read here rather than by stb_image 2.27 (Debian's libstb): stb
// reads the header's numbers into an int without an overflow check, does not report pixel data cut
// short, reads 16-bit samples in the machine's byte order (the format is big-endian), keeps 8-bit
// samples unscaled when the maximum value is below 255, and overruns its buffer converting a
// 16-bit file to another channel count (heap overflow in stbi__convert_16_to_8, found by
// tests/fuzz/fuzz_image).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace quench {

struct PnmHeader {
  int64_t width = 0;
  int64_t height = 0;
  int channels = 0;          // 1 for P5 (grey), 3 for P6 (RGB)
  int64_t max_value = 0;     // 1..65535
  int bytes_per_sample = 0;  // 1, or 2 when the maximum value is above 255
  size_t data_offset = 0;    // where the pixels start
};

// Parses the header as stb does (the magic, whitespace and '#' comments, width, height, maximum
// value, one separating character). std::nullopt if `bytes` is not a binary PGM/PPM; otherwise
// kInvalidArgument naming `path` for a number that is missing or too long, a maximum value outside
// 1..65535, or pixel data shorter than the header declares (expected vs got bytes).
std::optional<PnmHeader> read_pnm_header(std::string_view bytes, const std::string& path);

// The image's samples as 8 bits, round(v · 255 / max_value), interleaved as stored
// (width · height · channels bytes at `out`); `bytes` passed read_pnm_header.
void decode_pnm_samples(std::string_view bytes, const PnmHeader& header, unsigned char* out);

}  // namespace quench

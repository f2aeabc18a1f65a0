// Checks of JPEG segments that stb_image 2.27 (Debian's libstb) does not make itself, run before
// stb sees the file.
#pragma once

#include <string>
#include <string_view>

namespace quench {

// Every Huffman table (DHT segment) of a JPEG declares at most 256 codes. stb 2.27 builds its
// tables from the 16 code counts without that check and writes past them (heap overflow; found
// by tests/fuzz/fuzz_image, fixed in stb 2.28). kInvalidArgument naming `path` and the segment's
// byte offset; bytes that are not a JPEG are left to stb.
void check_jpeg_huffman_tables(std::string_view bytes, const std::string& path);

}  // namespace quench

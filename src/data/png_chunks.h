// Checks and a rewrite of a PNG's chunks before stb_image 2.27 (Debian's libstb) decodes the file
// (both found by tests/fuzz/fuzz_image): stb grows its image-data buffer to an IDAT chunk's
// declared length before reading it (a 100-byte file can make it allocate 2 GiB), and it passes a
// null buffer to memcpy (size 0) for an empty IDAT chunk before any data, undefined behavior.
// Empty IDAT chunks are legal and carry nothing, so they are dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quench {

// `bytes` without its empty IDAT chunks, or std::nullopt when it is not a PNG or has none (the
// caller decodes `bytes` itself). kInvalidArgument naming `path` for an IDAT chunk longer than the
// rest of the file; other chunks of a malformed length, and what follows them, are left to stb.
std::optional<std::string> png_without_empty_idat(std::string_view bytes, const std::string& path);

}  // namespace quench

// A PNG rewrite made before stb_image 2.27 (Debian's libstb) decodes the file: stb passes a null
// buffer to memcpy (size 0) for an empty IDAT chunk that comes before any data, undefined behavior
// that UBSan reports (found by tests/fuzz/fuzz_image). Empty IDAT chunks are legal and carry
// nothing, so they are dropped.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace quench {

// `bytes` without its empty IDAT chunks, or std::nullopt when it is not a PNG or has none (the
// caller decodes `bytes` itself). Chunks after a malformed length are kept as they are.
std::optional<std::string> png_without_empty_idat(std::string_view bytes);

}  // namespace quench

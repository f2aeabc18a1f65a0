#include "data/png_chunks.h"

#include <cstdint>

#include "core/check.h"

namespace quench {
namespace {

constexpr std::string_view kSignature = "\x89PNG\r\n\x1a\n";
constexpr size_t kChunkOverhead = 12;  // length, type, CRC

uint32_t be32(std::string_view bytes, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
  return v;
}

}  // namespace

std::optional<std::string> png_without_empty_idat(std::string_view bytes, const std::string& path) {
  if (bytes.substr(0, kSignature.size()) != kSignature) return std::nullopt;
  std::string kept(bytes.substr(0, kSignature.size()));
  bool dropped = false;
  size_t pos = kSignature.size();
  while (pos + kChunkOverhead <= bytes.size()) {
    const uint32_t length = be32(bytes, pos);
    const bool idat = bytes.substr(pos + 4, 4) == "IDAT";
    const size_t left = bytes.size() - pos - kChunkOverhead;
    if (length > left) {
      QUENCH_CHECK(
          !idat, ErrorKind::kInvalidArgument,
          "'{}' is a corrupt PNG: the IDAT chunk at byte {} declares {} bytes of data, the "
          "file has {} after its header",
          path, pos, length, left);
      break;  // stb reports the short chunk
    }
    const size_t size = kChunkOverhead + length;
    if (length == 0 && idat) {
      dropped = true;
    } else {
      kept.append(bytes.substr(pos, size));
    }
    pos += size;
  }
  if (!dropped) return std::nullopt;
  kept.append(bytes.substr(pos));
  return kept;
}

}  // namespace quench

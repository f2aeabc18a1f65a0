#include "data/jpeg_segments.h"

#include <algorithm>
#include <cstdint>

#include "core/check.h"

namespace quench {
namespace {

constexpr uint8_t kMarkerPrefix = 0xFF;
constexpr uint8_t kStartOfImage = 0xD8;
constexpr uint8_t kEndOfImage = 0xD9;
constexpr uint8_t kDefineHuffmanTable = 0xC4;
// A table: class and id (1 byte), the number of codes of each length 1..16 (16 bytes), then the
// symbols, one byte per code. 8-bit symbols allow at most 256 codes.
constexpr size_t kTableHeader = 17;
constexpr int kMaxCodes = 256;

// Markers without a length field: stuffing (FF 00), TEM, the restart markers RST0-7, SOI.
bool stands_alone(uint8_t marker) {
  return marker == 0x00 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7) ||
         marker == kStartOfImage;
}

}  // namespace

void check_jpeg_huffman_tables(std::string_view bytes, const std::string& path) {
  auto at = [&](size_t i) { return static_cast<uint8_t>(bytes[i]); };
  // stb skips any number of fill bytes (0xFF) before a marker, the first one included.
  size_t pos = 0;
  while (pos < bytes.size() && at(pos) == kMarkerPrefix) ++pos;
  if (pos == 0 || pos >= bytes.size() || at(pos) != kStartOfImage) return;
  ++pos;
  // Segments are skipped by their length; entropy-coded data after a scan header is walked byte
  // by byte to the next marker.
  while (pos + 1 < bytes.size()) {
    if (at(pos) != kMarkerPrefix || at(pos + 1) == kMarkerPrefix) {
      ++pos;
      continue;
    }
    const uint8_t marker = at(pos + 1);
    if (stands_alone(marker)) {
      pos += 2;
      continue;
    }
    if (marker == kEndOfImage || pos + 4 > bytes.size()) return;
    const size_t end = std::min(bytes.size(), pos + 2 + (size_t{at(pos + 2)} << 8 | at(pos + 3)));
    if (marker == kDefineHuffmanTable) {
      // stb reads a table's 16 counts even where they run past the segment's declared length (into
      // the next segment) or past the end of the file (zeros).
      for (size_t table = pos + 4; table < end;) {
        int codes = 0;
        for (size_t length = 1; length <= 16 && table + length < bytes.size(); ++length) {
          codes += at(table + length);
        }
        QUENCH_CHECK(codes <= kMaxCodes, ErrorKind::kInvalidArgument,
                     "'{}' is a corrupt JPEG: the Huffman table at byte {} declares {} codes, at "
                     "most {} are possible",
                     path, table, codes, kMaxCodes);
        table += kTableHeader + static_cast<size_t>(codes);
      }
    }
    pos = std::max(end, pos + 2);
  }
}

}  // namespace quench

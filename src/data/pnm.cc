#include "data/pnm.h"

#include <algorithm>

#include "core/check.h"

namespace quench {
namespace {

constexpr int kMaxDigits = 9;  // below 2^31: stb reads each number into an int
constexpr int64_t kMaxValue = 65535;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

class Cursor {
 public:
  Cursor(std::string_view bytes, const std::string& path) : bytes_(bytes), path_(path) {}

  // Whitespace, and comments from '#' to the end of the line.
  void skip_blanks() {
    for (;;) {
      while (pos_ < bytes_.size() && is_space(bytes_[pos_])) ++pos_;
      if (pos_ >= bytes_.size() || bytes_[pos_] != '#') return;
      while (pos_ < bytes_.size() && bytes_[pos_] != '\n' && bytes_[pos_] != '\r') ++pos_;
    }
  }

  int64_t number(const char* what) {
    skip_blanks();
    const size_t start = pos_;
    int64_t value = 0;
    while (pos_ < bytes_.size() && bytes_[pos_] >= '0' && bytes_[pos_] <= '9') {
      QUENCH_CHECK(pos_ - start < kMaxDigits, ErrorKind::kInvalidArgument,
                   "'{}' is a corrupt PGM/PPM image: its {} at byte {} has more than {} digits",
                   path_, what, start, kMaxDigits);
      value = value * 10 + (bytes_[pos_] - '0');
      ++pos_;
    }
    QUENCH_CHECK(pos_ > start, ErrorKind::kInvalidArgument,
                 "'{}' is a corrupt PGM/PPM image: expected its {} at byte {}, got {}", path_, what,
                 start, pos_ < bytes_.size() ? "another character" : "the end of the file");
    return value;
  }

  size_t position() const { return pos_; }

 private:
  std::string_view bytes_;
  const std::string& path_;
  size_t pos_ = 2;  // after the magic
};

}  // namespace

std::optional<PnmHeader> read_pnm_header(std::string_view bytes, const std::string& path) {
  if (bytes.size() < 2 || bytes[0] != 'P' || (bytes[1] != '5' && bytes[1] != '6')) {
    return std::nullopt;
  }
  PnmHeader header;
  header.channels = bytes[1] == '6' ? 3 : 1;
  Cursor cursor(bytes, path);
  header.width = cursor.number("width");
  header.height = cursor.number("height");
  const int64_t max_value = header.max_value = cursor.number("maximum value");
  QUENCH_CHECK(max_value >= 1 && max_value <= kMaxValue, ErrorKind::kInvalidArgument,
               "'{}' is a corrupt PGM/PPM image: its maximum value is {}, expected 1..{}", path,
               max_value, kMaxValue);
  header.bytes_per_sample = max_value > 255 ? 2 : 1;
  // One character (normally a newline) separates the header from the pixels.
  header.data_offset = cursor.position() + 1;
  const int64_t expected = header.width * header.height * header.channels * header.bytes_per_sample;
  const int64_t got = bytes.size() > header.data_offset
                          ? static_cast<int64_t>(bytes.size() - header.data_offset)
                          : 0;
  QUENCH_CHECK(got >= expected, ErrorKind::kInvalidArgument,
               "'{}' is a truncated PGM/PPM image: its header declares {}x{} pixels of {} "
               "channel(s) at {} byte(s) per sample, {} bytes, the file has {}",
               path, header.width, header.height, header.channels, header.bytes_per_sample,
               expected, got);
  return header;
}

void decode_pnm_samples(std::string_view bytes, const PnmHeader& header, unsigned char* out) {
  const auto* in = reinterpret_cast<const unsigned char*>(bytes.data() + header.data_offset);
  const int64_t count = header.width * header.height * header.channels;
  const int64_t max = header.max_value;
  for (int64_t i = 0; i < count; ++i) {
    int64_t v = header.bytes_per_sample == 2 ? (int64_t{in[2 * i]} << 8 | in[2 * i + 1]) : in[i];
    v = std::min(v, max);  // a sample above the declared maximum saturates
    out[i] = static_cast<unsigned char>((v * 255 + max / 2) / max);
  }
}

}  // namespace quench

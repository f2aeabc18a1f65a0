// Image decoding of corrupt files: refused with a message before stb_image can misbehave.
#include <gtest/gtest.h>

#include <string>

#include "core/file_util.h"
#include "data/jpeg_segments.h"
#include "data/stb.h"
#include "quench/error.h"

namespace quench {
namespace {

std::string bad_image(const std::string& name) {
  return read_file(std::string(QUENCH_SOURCE_DIR) + "/tests/fuzz/regressions/image/" + name,
                   "image");
}

// The message of the kInvalidArgument error `f` throws ("" when it throws nothing).
template <class F>
std::string invalid_argument(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInvalidArgument) << e.what();
    return e.what();
  }
  return "";
}

// fuzz_image's first crash: a DHT segment whose code counts add up to more than 256, which
// stb 2.27 writes past its Huffman table (an AddressSanitizer/UBSan report without the check).
TEST(DataImage, JpegHuffmanTableWithTooManyCodesIsRefused) {
  const std::string jpeg = bad_image("jpeg_dht_overflow.jpg");
  for (int channels : {1, 3}) {
    const std::string message =
        invalid_argument([&] { decode_image(jpeg, channels, "overflow.jpg"); });
    EXPECT_NE(message.find("'overflow.jpg' is a corrupt JPEG"), std::string::npos) << message;
    EXPECT_NE(message.find("Huffman table at byte 206 declares 290 codes"), std::string::npos)
        << message;
  }
}

// fuzz_image's second finding: stb accepts a PGM whose height reads as 0, and decodes no pixels.
TEST(DataImage, ImageWithoutPixelsIsRefused) {
  const std::string pgm(
      "P5\n3 \x0f\0\0\0"
      "2\n255\n\0\1\2\3\4\5",
      21);
  const std::string message = invalid_argument([&] { decode_image(pgm, 1, "empty.pgm"); });
  EXPECT_NE(message.find("'empty.pgm' is 3x0 pixels: it has none"), std::string::npos) << message;
}

TEST(DataImage, JpegHuffmanCheckWalksSegmentsAndScans) {
  // SOI, a DHT with 256 codes (allowed) whose symbols contain FF bytes, SOS header, entropy data
  // with a stuffed FF 00 and a restart marker, then a DHT with 257 codes: only the last fails.
  std::string jpeg = "\xFF\xD8";
  auto segment = [&](unsigned char marker, const std::string& body) {
    const size_t length = body.size() + 2;
    jpeg += std::string{'\xFF', static_cast<char>(marker), static_cast<char>(length >> 8),
                        static_cast<char>(length & 0xFF)} +
            body;
  };
  auto dht = [&](int first_count, int last_count) {
    std::string body(1, '\x10');
    body += static_cast<char>(first_count);
    body += std::string(14, '\0');
    body += static_cast<char>(last_count);
    body += std::string(static_cast<size_t>(first_count + last_count), '\xFF');
    segment(0xC4, body);
  };
  dht(255, 1);
  EXPECT_EQ(invalid_argument([&] { check_jpeg_huffman_tables(jpeg, "a.jpg"); }), "");
  segment(0xDA, std::string(10, '\x01'));
  jpeg += std::string("\x12\xFF\x00\x34\xFF\xD3\x56", 7);
  const size_t second = jpeg.size() + 4;
  dht(255, 2);
  const std::string message = invalid_argument([&] { check_jpeg_huffman_tables(jpeg, "b.jpg"); });
  EXPECT_NE(message.find("at byte " + std::to_string(second) + " declares 257 codes"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace quench

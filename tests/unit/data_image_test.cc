// Image decoding of corrupt files: refused with a message before stb_image can misbehave.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/file_util.h"
#include "data/jpeg_segments.h"
#include "data/png_chunks.h"
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

// fuzz_image's fourth crash: the same overflow from a table that the end of the file cuts short
// (stb reads zeros past the end; ten of the sixteen counts are in the file: 678 codes).
TEST(DataImage, JpegHuffmanTableCutShortIsRefused) {
  const std::string jpeg = bad_image("jpeg_dht_past_end.jpg");
  const std::string message = invalid_argument([&] { decode_image(jpeg, 3, "cut.jpg"); });
  EXPECT_NE(message.find("'cut.jpg' is a corrupt JPEG: the Huffman table at byte 83 declares 678 "
                         "codes"),
            std::string::npos)
      << message;
}

// fuzz_image's ninth finding: the last table of a DHT segment starts 4 bytes before the segment's
// declared end; stb reads its 16 counts from the bytes after the segment (498 codes).
TEST(DataImage, JpegHuffmanTableRunningPastItsSegmentIsRefused) {
  const std::string message = invalid_argument(
      [&] { decode_image(bad_image("jpeg_dht_table_past_segment.jpg"), 3, "past.jpg"); });
  EXPECT_NE(message.find("the Huffman table at byte 589 declares 498 codes"), std::string::npos)
      << message;
}

// fuzz_image's sixth crash: the same overflow in a JPEG that starts with fill bytes (FF FF FF D8),
// which stb skips and the check did not.
TEST(DataImage, JpegWithFillBytesBeforeItsStartIsChecked) {
  const std::string jpeg = bad_image("jpeg_fill_bytes_before_soi.jpg");
  const std::string message = invalid_argument([&] { decode_image(jpeg, 1, "fill.jpg"); });
  EXPECT_NE(message.find("'fill.jpg' is a corrupt JPEG: the Huffman table at byte"),
            std::string::npos)
      << message;
}

// fuzz_image's seventh finding: an empty IDAT chunk before the image data, on which stb 2.27 calls
// memcpy with a null buffer (size 0; UBSan). Empty IDAT chunks are dropped before stb: the fuzzed
// file is still refused (its next chunk is garbage), and a valid PNG with empty IDAT chunks
// inserted decodes to the same pixels.
TEST(DataImage, EmptyIdatChunksAreDropped) {
  EXPECT_NE(invalid_argument([&] {
              decode_image(bad_image("png_empty_first_idat.png"), 1, "empty_idat.png");
            }).find("cannot decode image 'empty_idat.png'"),
            std::string::npos);
  const std::string png =
      read_file(std::string(QUENCH_SOURCE_DIR) + "/tests/fuzz/corpus/image/c3.png", "image");
  const size_t idat = png.find("IDAT") - 4;
  ASSERT_LT(idat, png.size());
  const std::string empty_idat("\0\0\0\0IDAT\x35\xAF\x06\x1E", 12);
  const std::string padded = png.substr(0, idat) + empty_idat + png.substr(idat);
  EXPECT_FALSE(png_without_empty_idat(png, "c3.png").has_value());
  ASSERT_EQ(png_without_empty_idat(padded, "padded.png").value_or(""), png);
  const DecodedImage a = decode_image(png, 3, "c3.png");
  const DecodedImage b = decode_image(padded, 3, "padded.png");
  ASSERT_EQ(a.width, b.width);
  ASSERT_EQ(a.height, b.height);
  const size_t n = static_cast<size_t>(a.width) * a.height * 3;
  EXPECT_TRUE(std::equal(a.pixels.get(), a.pixels.get() + n, b.pixels.get()));
}

// fuzz_image's eighth finding: an IDAT chunk declaring about 1 GiB in a 120-byte file, for which
// stb 2.27 allocates 2 GiB before it finds the data missing.
TEST(DataImage, IdatLongerThanTheFileIsRefused) {
  const std::string message =
      invalid_argument([&] { decode_image(bad_image("png_idat_past_end.png"), 3, "long.png"); });
  EXPECT_NE(message.find("'long.png' is a corrupt PNG: the IDAT chunk at byte 81 declares"),
            std::string::npos)
      << message;
}

// fuzz_image's fifth crash: a PNG header of 2^32 - 1 by 2^32 - 1 pixels overflowed the pixel
// limit's product (UBSan); now the limit's message.
TEST(DataImage, HugePngHeaderIsAResourceError) {
  const std::string png = bad_image("png_4g_by_4g.png");
  try {
    decode_image(png, 3, "huge.png");
    ADD_FAILURE() << "decoded";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kResource) << e.what();
    EXPECT_NE(std::string(e.what()).find("4294967295x4294967295"), std::string::npos) << e.what();
  }
}

// fuzz_image's second finding: stb accepts a PGM whose height is not a number (it reads 0), and
// decodes no pixels.
TEST(DataImage, ImageWithoutPixelsIsRefused) {
  const std::string pgm(
      "P5\n3 \x0f\0\0\0"
      "2\n255\n\0\1\2\3\4\5",
      21);
  const std::string message = invalid_argument([&] { decode_image(pgm, 1, "empty.pgm"); });
  EXPECT_NE(message.find("'empty.pgm' is a corrupt PGM/PPM image: expected its height at byte 5"),
            std::string::npos)
      << message;
  const std::string zero_height("P5\n3 0\n255\n", 12);
  EXPECT_NE(invalid_argument([&] {
              decode_image(zero_height, 1, "zero.pgm");
            }).find("'zero.pgm' is 3x0 pixels: it has none"),
            std::string::npos);
}

// fuzz_image's third crash: a 16-bit PGM with its pixels cut short, decoded to 3 channels; stb 2.27
// reads past its buffer converting it (stbi__convert_16_to_8).
TEST(DataImage, TruncatedPgmIsRefused) {
  const std::string pgm = bad_image("pgm16_truncated.pgm");
  for (int channels : {1, 3}) {
    const std::string message = invalid_argument([&] { decode_image(pgm, channels, "cut.pgm"); });
    EXPECT_NE(message.find("'cut.pgm' is a truncated PGM/PPM image: its header declares 3x2 "
                           "pixels of 1 channel(s) at 2 byte(s) per sample, 12 bytes, the file "
                           "has 6"),
              std::string::npos)
        << message;
  }
  const std::string long_number = "P6\n1234567890 1\n255\n";
  EXPECT_NE(invalid_argument([&] {
              decode_image(long_number, 3, "long.ppm");
            }).find("its width at byte 3 has more than 9 digits"),
            std::string::npos);
  EXPECT_NE(invalid_argument([&] {
              decode_image("P5 1 1 70000 \x01\x02", 1, "deep.pgm");
            }).find("its maximum value is 70000, expected 1..65535"),
            std::string::npos);
}

// Samples scale to 8 bits by the maximum value (16-bit ones read big-endian), to the stored
// channel count and to another one (grey to RGB repeats the sample; RGB to grey is stb's integer
// luma).
TEST(DataImage, SixteenBitPnmConvertsChannels) {
  const std::string grey("P5\n# a comment\n2 1\n65535\n\x12\x34\xAB\xCD", 29);
  const DecodedImage one = decode_image(grey, 1, "grey.pgm");
  ASSERT_EQ(one.width * one.height * one.channels, 2);
  EXPECT_EQ(one.pixels.get()[0], 0x12);  // round(0x1234 · 255 / 65535) = 0x12
  EXPECT_EQ(one.pixels.get()[1], 0xAB);  // round(0xABCD · 255 / 65535) = 0xAB
  const DecodedImage three = decode_image(grey, 3, "grey.pgm");
  ASSERT_EQ(three.channels, 3);
  const unsigned char expected_rgb[] = {0x12, 0x12, 0x12, 0xAB, 0xAB, 0xAB};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(three.pixels.get()[i], expected_rgb[i]) << i;
  // 16-bit RGB 256, 512, 1000 of 1000 → 65, 131, 255; to grey by stb's luma (77 r + 150 g + 29 b)
  // >> 8.
  const std::string rgb("P6 1 1 1000\n\x01\x00\x02\x00\x03\xE8", 18);
  const DecodedImage luma = decode_image(rgb, 1, "rgb.ppm");
  ASSERT_EQ(luma.channels, 1);
  EXPECT_EQ(luma.pixels.get()[0], (77 * 65 + 150 * 131 + 29 * 255) >> 8);
  // 8-bit samples of maximum 100 scale too: 50 → 128; a sample above the maximum saturates.
  const DecodedImage scaled = decode_image(std::string("P5 2 1 100\n\x32\xC8", 13), 1, "s.pgm");
  EXPECT_EQ(scaled.pixels.get()[0], 128);
  EXPECT_EQ(scaled.pixels.get()[1], 255);
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

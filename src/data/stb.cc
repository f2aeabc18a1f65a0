// The one place stb_image and stb_image_resize are compiled, as static functions so that they
// never clash with a copy in libstb.
#include "data/stb.h"

#include "core/check.h"
#include "core/resource_check.h"
#include "data/jpeg_segments.h"
#include "data/png_chunks.h"
#include "data/pnm.h"
#include "quench/error.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#ifndef __clang__
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#pragma GCC diagnostic ignored "-Wtype-limits"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
// stb 2.27's JPEG bit reader can run its bit count below zero on corrupt entropy-coded data and
// then shifts a byte by 32 bits (stb_image.h: `b << (24 - j->code_bits)`; found by
// tests/fuzz/fuzz_image, input tests/fuzz/regressions/image/jpeg_bit_buffer_shift_32.jpg; stb 2.28
// checks the count). x86 masks the shift count, so only the pixels of that corrupt file are
// wrong; no memory is touched outside stb's buffers (AddressSanitizer replays the input). The
// condition cannot be seen before decoding, so the sanitizer builds do not report that one check
// inside stb's own functions; every other check stays on.
#ifdef __clang__
#pragma clang attribute push(__attribute__((no_sanitize("shift-exponent"))), apply_to = function)
#endif
#include <stb_image.h>
#ifdef __clang__
#pragma clang attribute pop
#endif
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>
#pragma GCC diagnostic pop

namespace quench {
namespace {

const auto* as_stbi(std::string_view bytes) {
  return reinterpret_cast<const stbi_uc*>(bytes.data());
}

// A PNG's size from its IHDR chunk (signature, length, "IHDR", width, height, big-endian), read
// before stb: stb refuses images over 2^30 bytes with a reason that a later format's probe then
// overwrites ("unknown image type"), so a huge PNG would look like a file that is not an image.
bool png_dimensions(std::string_view bytes, int64_t& width, int64_t& height) {
  constexpr std::string_view kSignature = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 24 || bytes.substr(0, 8) != kSignature || bytes.substr(12, 4) != "IHDR") {
    return false;
  }
  auto be32 = [&](size_t at) {
    int64_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = v << 8 | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  width = be32(16);
  height = be32(20);
  return true;
}

int length_of(std::string_view bytes, const std::string& path) {
  QUENCH_CHECK(bytes.size() <= static_cast<size_t>(INT32_MAX), ErrorKind::kResource,
               "image '{}' is larger than 2 GB", path);
  return static_cast<int>(bytes.size());
}

}  // namespace

ImageInfo read_image_info(std::string_view bytes, const std::string& path) {
  int64_t png_width = 0, png_height = 0;
  if (png_dimensions(bytes, png_width, png_height)) {
    check_image_pixels(png_width, png_height, fmt::format("image '{}'", path));
  }
  // stb's header probe reads Huffman tables that come before the frame header.
  check_jpeg_huffman_tables(bytes, path);
  read_pnm_header(bytes, path);
  ImageInfo info;
  if (!stbi_info_from_memory(as_stbi(bytes), length_of(bytes, path), &info.width, &info.height,
                             &info.channels)) {
    fail(ErrorKind::kInvalidArgument, "'{}' is not a PNG, JPEG, BMP or PGM/PPM image ({})", path,
         stbi_failure_reason());
  }
  // stb accepts a PGM/PPM header with a zero size (found by fuzz_image).
  QUENCH_CHECK(info.width > 0 && info.height > 0, ErrorKind::kInvalidArgument,
               "image '{}' is {}x{} pixels: it has none", path, info.width, info.height);
  check_image_pixels(info.width, info.height, fmt::format("image '{}'", path));
  return info;
}

DecodedImage decode_image(std::string_view bytes, int channels, const std::string& path) {
  const ImageInfo info = read_image_info(bytes, path);
  DecodedImage image;
  if (const std::optional<PnmHeader> pnm = read_pnm_header(bytes, path)) {
    // Samples decoded here (data/pnm.h says why), channels converted by stb's own 8-bit
    // conversion, which frees its input, also when it fails.
    const size_t samples = static_cast<size_t>(pnm->width * pnm->height * pnm->channels);
    auto* pixels = static_cast<stbi_uc*>(STBI_MALLOC(samples));
    QUENCH_CHECK(pixels != nullptr, ErrorKind::kResource, "out of memory decoding image '{}'",
                 path);
    decode_pnm_samples(bytes, *pnm, pixels);
    if (channels != pnm->channels) {
      pixels = stbi__convert_format(pixels, pnm->channels, channels, info.width, info.height);
      QUENCH_CHECK(pixels != nullptr, ErrorKind::kResource,
                   "cannot convert image '{}' to {} channel(s): {}", path, channels,
                   stbi_failure_reason());
    }
    image.pixels = {pixels, stbi_image_free};
    image.width = info.width;
    image.height = info.height;
  } else {
    const std::optional<std::string> rewritten = png_without_empty_idat(bytes, path);
    const std::string_view file = rewritten ? std::string_view(*rewritten) : bytes;
    int stored_channels = 0;
    stbi_uc* pixels = stbi_load_from_memory(as_stbi(file), length_of(file, path), &image.width,
                                            &image.height, &stored_channels, channels);
    if (pixels == nullptr) {
      fail(ErrorKind::kInvalidArgument, "cannot decode image '{}': {}", path,
           stbi_failure_reason());
    }
    image.pixels = {pixels, stbi_image_free};
  }
  image.channels = channels;
  return image;
}

void resize_plane(const float* in, int in_width, int in_height, float* out, int out_width,
                  int out_height) {
  const int ok = stbir_resize_float_generic(in, in_width, in_height, 0, out, out_width, out_height,
                                            0, /*num_channels=*/1, STBIR_ALPHA_CHANNEL_NONE,
                                            /*flags=*/0, STBIR_EDGE_CLAMP, STBIR_FILTER_TRIANGLE,
                                            STBIR_COLORSPACE_LINEAR, nullptr);
  QUENCH_CHECK(ok, ErrorKind::kResource, "cannot resize a {}x{} image to {}x{}", in_width,
               in_height, out_width, out_height);
}

}  // namespace quench

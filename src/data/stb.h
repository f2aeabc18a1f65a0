// The few stb_image / stb_image_resize functions quench uses, behind a small interface.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace quench {

struct ImageInfo {
  int width = 0;
  int height = 0;
  int channels = 0;  // as stored: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA
};

// Reads the image header only; kInvalidArgument naming `path` if it is not a PNG, JPEG, BMP or
// PGM/PPM image; kResource when it has more pixels than the limit (quench/limits.h).
ImageInfo read_image_info(std::string_view bytes, const std::string& path);

struct DecodedImage {
  std::unique_ptr<unsigned char, void (*)(void*)> pixels{nullptr, nullptr};  // HWC, 8 bits
  int width = 0;
  int height = 0;
  int channels = 0;
};

// Decodes to `channels` (1: grey, 3: RGB) 8-bit interleaved pixels.
DecodedImage decode_image(std::string_view bytes, int channels, const std::string& path);

// Resizes one float plane, bilinear (a triangle filter, which averages when shrinking), with
// edge pixels clamped.
void resize_plane(const float* in, int in_width, int in_height, float* out, int out_width,
                  int out_height);

}  // namespace quench

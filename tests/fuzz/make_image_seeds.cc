// Writes the image seeds of fuzz_image (corpus/image/): small PNG, JPEG, BMP and PGM files in
// grey, grey+alpha, RGB and RGBA, through stb_image_write. Built and run by make_seeds.py.
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  const std::string dir = argv[1];
  const int width = 5, height = 3;
  bool ok = true;
  for (int channels = 1; channels <= 4; ++channels) {
    std::vector<unsigned char> pixels(static_cast<size_t>(width * height * channels));
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<unsigned char>(i * 37);
    const std::string base = dir + "/c" + std::to_string(channels);
    ok &= stbi_write_png((base + ".png").c_str(), width, height, channels, pixels.data(), 0) != 0;
    ok &= stbi_write_jpg((base + ".jpg").c_str(), width, height, channels, pixels.data(), 90) != 0;
    ok &= stbi_write_bmp((base + ".bmp").c_str(), width, height, channels, pixels.data()) != 0;
  }
  return ok ? 0 : 1;
}

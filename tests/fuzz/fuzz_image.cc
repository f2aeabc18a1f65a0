// Image decoding (PNG, JPEG, BMP, PGM/PPM through stb_image), grey and RGB, as the folder
// datasets decode them.
#include <string_view>

#include "data/stb.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace quench;
  fuzz::set_fuzz_limits();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  for (int channels : {1, 3}) {
    try {
      const DecodedImage image = decode_image(bytes, channels, "fuzz.png");
      if (image.width <= 0 || image.height <= 0) __builtin_trap();  // decode_image refuses these
      volatile unsigned char last =
          image.pixels.get()[static_cast<size_t>(image.width) * image.height * channels - 1];
      (void)last;
    } catch (const Error&) {
    }
  }
  return 0;
}

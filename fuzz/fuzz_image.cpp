// libFuzzer target: the PNG and JPEG decoder (core/image_io: libpng and libjpeg behind jess's error
// handling, every colour type and bit depth converted to 8 bits) on arbitrary bytes, as stored and
// converted to RGB; the images a user points `render factors background=folder:` at.
#include <cstdint>
#include <exception>

#include "jess/core/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  for (int channels : {0, 3}) {
    try {
      auto image = jess::decode_image(data, size, channels, "fuzz");
      (void)image;
    } catch (const std::exception&) {
    }
  }
  return 0;
}

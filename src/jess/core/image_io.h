#pragma once
// 8-bit images to and from PNG and JPEG (libpng, libjpeg-turbo; no torch), in files or in memory, for
// the rendered-image datasets. Writes are atomic (temporary file in the same folder, then rename) and
// deterministic: the same pixels and settings give the same bytes (no timestamps are written). Reading
// dispatches on the content, not the file name, and every failure — a missing, truncated, corrupt or
// unsupported file — raises ImageError naming the file and the problem; a corrupt file never aborts
// the process (both libraries' fatal-error paths are redirected).
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jess {

class ImageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Interleaved 8-bit pixels, row-major with the top row first: channels 1 (grey), 3 (RGB) or 4 (RGBA).
struct Image8 {
  int width = 0, height = 0, channels = 0;
  std::vector<uint8_t> pixels;  // width * height * channels bytes

  Image8() = default;
  Image8(int width_, int height_, int channels_, uint8_t value = 0);
  size_t size_bytes() const { return size_t(width) * size_t(height) * size_t(channels); }
  uint8_t* pixel(int x, int y) { return pixels.data() + (size_t(y) * size_t(width) + size_t(x)) * size_t(channels); }
  const uint8_t* pixel(int x, int y) const {
    return pixels.data() + (size_t(y) * size_t(width) + size_t(x)) * size_t(channels);
  }
  // Throws ImageError (mentioning `what`) unless the dimensions are positive, channels is 1, 3 or 4
  // and pixels holds exactly width * height * channels bytes.
  void validate(const std::string& what) const;
};

// Converts to 1, 3 or 4 channels the way PIL's convert("L" | "RGB" | "RGBA") does: grey is
// replicated into RGB, RGB becomes grey by ITU-R 601 luma (299 R + 587 G + 114 B) / 1000, alpha is
// dropped or set opaque (255).
Image8 convert_channels(const Image8& image, int channels);

// ---- in memory ----
// PNG at zlib level `compression` (0..9), colour type from the channel count.
std::vector<uint8_t> encode_png(const Image8& image, int compression = 6);
// Baseline JPEG with optimised Huffman tables and libjpeg's default 4:2:0 chroma subsampling (as PIL
// writes). JPEG has no alpha: a 4-channel image is an error (convert_channels(image, 3) first).
std::vector<uint8_t> encode_jpeg(const Image8& image, int quality = 95);
// Decodes PNG or JPEG bytes (recognised by their magic numbers). PNG: palette, tRNS and sub-8-bit
// images are expanded, 16-bit samples are scaled to 8 bits (rounded); grey stays 1 channel, grey +
// alpha becomes RGBA. JPEG: grey stays 1 channel, YCbCr becomes RGB, CMYK/YCCK are converted to RGB.
// `force_channels` (1, 3 or 4; 0 = as stored) then converts with convert_channels. `name` appears in
// error messages (the file's path when called by read_image).
Image8 decode_image(const uint8_t* data, size_t size, int force_channels = 0,
                    const std::string& name = "<memory>");
inline Image8 decode_image(const std::vector<uint8_t>& bytes, int force_channels = 0,
                           const std::string& name = "<memory>") {
  return decode_image(bytes.data(), bytes.size(), force_channels, name);
}

// ---- files ----
void write_png(const std::string& path, const Image8& image, int compression = 6);
void write_jpeg(const std::string& path, const Image8& image, int quality = 95);
Image8 read_image(const std::string& path, int force_channels = 0);

}  // namespace jess

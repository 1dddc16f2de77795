#include "jess/core/image_io.h"

#include <sys/stat.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>

// jpeglib.h needs FILE and size_t declared first; jerror.h needs jpeglib.h's configuration.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "jess/core/files.h"

// Both libraries report fatal errors by calling a handler that must not return. Their defaults print
// and exit (libjpeg) or longjmp to a caller-set point (libpng). Here each handler copies the message
// and longjmps back into a "guarded" function; those functions keep only trivially destructible
// locals, so the jump skips no C++ destructor, and they never let a C++ exception cross the C code.

namespace jess {
namespace {

// Larger images are refused before allocation, so a corrupt header cannot ask for many gigabytes.
constexpr uint64_t kMaxImageBytes = uint64_t(1) << 31;
// zlib cannot inflate more than ~1032 bytes per compressed byte; a PNG header claiming more pixel data
// than its file could hold is corrupt (checked before allocating).
constexpr uint64_t kMaxDeflateRatio = 1032;

std::string quoted(const std::string& name) { return "'" + name + "'"; }

// ---------------------------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------------------------

struct PngState {
  const uint8_t* data = nullptr;  // reading: the encoded bytes
  size_t size = 0, pos = 0;
  std::vector<uint8_t>* encoded = nullptr;  // writing: the output
  char message[256] = {0};
};

void png_error_longjmp(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->message, sizeof state->message, "%s", message ? message : "unknown libpng error");
  png_longjmp(png, 1);
}

void png_warning_ignore(png_structp, png_const_charp) {}  // e.g. unknown ancillary chunks: harmless

void png_read_from_memory(png_structp png, png_bytep out, png_size_t n) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > state->size - state->pos) png_error(png, "file is truncated (unexpected end of data)");
  std::memcpy(out, state->data + state->pos, n);
  state->pos += n;
}

void png_write_to_vector(png_structp png, png_bytep data, png_size_t n) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  bool out_of_memory = false;
  try {
    state->encoded->insert(state->encoded->end(), data, data + n);
  } catch (...) {
    out_of_memory = true;
  }
  if (out_of_memory) png_error(png, "out of memory while encoding");  // outside the catch: it longjmps
}

void png_flush_nothing(png_structp) {}

// Owns the libpng structures so that they are freed on every path, exceptions included.
struct PngReadHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngReadHandles() { png_destroy_read_struct(&png, info ? &info : nullptr, nullptr); }
};
struct PngWriteHandles {
  png_structp png = nullptr;
  png_infop info = nullptr;
  ~PngWriteHandles() { png_destroy_write_struct(&png, info ? &info : nullptr); }
};

// Returns false with state->message set when libpng fails. `rows` is the caller's, so nothing here
// needs a destructor when libpng jumps back.
bool png_decode_guarded(png_structp png, png_infop info, PngState* state, Image8* out,
                        std::vector<png_bytep>* rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, state, png_read_from_memory);
  png_read_info(png, info);
  png_uint_32 width = 0, height = 0;
  int bit_depth = 0, color_type = 0, interlace = 0;
  png_get_IHDR(png, info, &width, &height, &bit_depth, &color_type, &interlace, nullptr, nullptr);

  // Raw (filtered, non-interlaced) data size against what the file could hold once inflated.
  const uint64_t raw_row = (uint64_t(width) * png_get_channels(png, info) * uint64_t(bit_depth) + 7) / 8 + 1;
  if (raw_row * height > kMaxDeflateRatio * state->size + 4096)
    png_error(png, "header claims more pixel data than the file can hold (corrupt or truncated)");

  const bool has_trns = png_get_valid(png, info, PNG_INFO_tRNS) != 0;
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (has_trns) png_set_tRNS_to_alpha(png);
  if (bit_depth == 16) png_set_scale_16(png);  // rounds, unlike png_set_strip_16
  // Grey with alpha has no 2-channel Image8 layout: it becomes RGBA.
  if (color_type == PNG_COLOR_TYPE_GRAY_ALPHA || (color_type == PNG_COLOR_TYPE_GRAY && has_trns))
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);

  const int channels = png_get_channels(png, info);
  if (channels != 1 && channels != 3 && channels != 4) png_error(png, "unexpected channel layout after conversion");
  if (uint64_t(width) * height * uint64_t(channels) > kMaxImageBytes) png_error(png, "image is too large");
  if (png_get_rowbytes(png, info) != size_t(width) * size_t(channels)) png_error(png, "unexpected row size");
  out->width = int(width);
  out->height = int(height);
  out->channels = channels;
  out->pixels.resize(size_t(width) * height * size_t(channels));  // bad_alloc propagates normally
  rows->resize(height);
  for (png_uint_32 y = 0; y < height; ++y) (*rows)[y] = out->pixels.data() + size_t(y) * width * size_t(channels);
  png_read_image(png, rows->data());
  png_read_end(png, nullptr);  // reads (and CRC-checks) the chunks after the image data
  return true;
}

Image8 decode_png(const uint8_t* data, size_t size, const std::string& name) {
  PngState state;
  state.data = data;
  state.size = size;
  PngReadHandles h;
  h.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, png_error_longjmp, png_warning_ignore);
  if (!h.png) throw ImageError(quoted(name) + ": cannot initialise libpng");
  h.info = png_create_info_struct(h.png);
  if (!h.info) throw ImageError(quoted(name) + ": cannot initialise libpng");
  Image8 image;
  std::vector<png_bytep> rows;
  if (!png_decode_guarded(h.png, h.info, &state, &image, &rows))
    throw ImageError(quoted(name) + ": corrupt or truncated PNG (" + state.message + ")");
  return image;
}

bool png_encode_guarded(png_structp png, png_infop info, PngState* state, const Image8* image,
                        const std::vector<png_bytep>* rows, int compression) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_write_fn(png, state, png_write_to_vector, png_flush_nothing);
  const int color_type = image->channels == 1   ? PNG_COLOR_TYPE_GRAY
                         : image->channels == 3 ? PNG_COLOR_TYPE_RGB
                                                : PNG_COLOR_TYPE_RGBA;
  png_set_IHDR(png, info, png_uint_32(image->width), png_uint_32(image->height), 8, color_type,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_compression_level(png, compression);
  // No tIME or text chunks are written: the bytes depend on the pixels and the level only.
  png_write_info(png, info);
  png_write_image(png, const_cast<png_bytepp>(rows->data()));
  png_write_end(png, nullptr);
  return true;
}

// ---------------------------------------------------------------------------------------------
// JPEG
// ---------------------------------------------------------------------------------------------

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first member: libjpeg hands back a pointer to it
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jpeg_error_longjmp(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// libjpeg only warns about damaged data (and fills the rest of a truncated image with grey); a
// dataset reader must not accept such an image silently, so those warnings become errors. Benign
// ones (extra bytes between markers, an unknown JFIF revision, a bad ICC profile) are ignored.
void jpeg_emit_message_strict(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  switch (cinfo->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
#if JPEG_LIB_VERSION >= 70 || defined(C_ARITH_CODING_SUPPORTED) || defined(D_ARITH_CODING_SUPPORTED)
    case JWRN_ARITH_BAD_CODE:
#endif
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL:
    case JWRN_BOGUS_PROGRESSION:
      jpeg_error_longjmp(cinfo);
    default:
      cinfo->err->num_warnings++;
  }
}

struct JpegDecoded {
  int stored_channels = 0;  // 1, 3, or 4 (CMYK)
  bool adobe_inverted = false;
};

bool jpeg_decode_guarded(const uint8_t* data, size_t size, JpegErrorManager* err, Image8* out, JpegDecoded* info) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = jpeg_error_longjmp;
  err->pub.emit_message = jpeg_emit_message_strict;
  if (setjmp(err->jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, static_cast<unsigned long>(size));
  jpeg_read_header(&cinfo, TRUE);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; break;
    case JCS_CMYK:
    case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;  // converted to RGB by the caller
    default: cinfo.out_color_space = JCS_RGB;
  }
  // Output against input, judged from the header before jpeg_start_decompress: that call allocates a
  // progressive image's whole coefficient buffer and reads every scan (fuzz/fuzz_image found a 109-byte
  // file declaring a 2 GB image "decoded" from nothing, and a 149-byte progressive one declaring 2
  // gigapixels that took seconds to refuse): at most 64 MiB, or 4096 bytes per byte of file.
  const uint64_t channels_out = cinfo.out_color_space == JCS_GRAYSCALE ? 1 : cinfo.out_color_space == JCS_CMYK ? 4 : 3;
  const uint64_t plausible = std::max<uint64_t>(uint64_t(64) << 20, uint64_t(4096) * uint64_t(size));
  if (uint64_t(cinfo.image_width) * cinfo.image_height * channels_out > plausible) {
    std::snprintf(err->message, sizeof err->message,
                  "header claims a %ux%u image, more than %lu bytes of JPEG data can hold (corrupt or truncated)",
                  cinfo.image_width, cinfo.image_height, static_cast<unsigned long>(size));
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  if (uint64_t(cinfo.image_width) * cinfo.image_height * channels_out > kMaxImageBytes) {
    std::snprintf(err->message, sizeof err->message, "image is too large (%ux%u)", cinfo.image_width,
                  cinfo.image_height);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_start_decompress(&cinfo);
  const int channels = cinfo.output_components;
  if (channels != 1 && channels != 3 && channels != 4) {
    std::snprintf(err->message, sizeof err->message, "unsupported number of components %d", channels);
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  out->width = int(cinfo.output_width);
  out->height = int(cinfo.output_height);
  out->channels = channels;
  info->stored_channels = channels;
  info->adobe_inverted = cinfo.saw_Adobe_marker;
  bool out_of_memory = false;
  try {
    out->pixels.resize(size_t(cinfo.output_width) * cinfo.output_height * size_t(channels));
  } catch (...) {
    out_of_memory = true;
  }
  if (out_of_memory) {
    std::snprintf(err->message, sizeof err->message, "out of memory");
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  const size_t stride = size_t(cinfo.output_width) * size_t(channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = out->pixels.data() + size_t(cinfo.output_scanline) * stride;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// CMYK as Photoshop stores it (inverted when an Adobe marker is present) to RGB, as PIL converts it.
Image8 cmyk_to_rgb(const Image8& cmyk, bool inverted) {
  Image8 rgb(cmyk.width, cmyk.height, 3);
  const size_t n = size_t(cmyk.width) * size_t(cmyk.height);
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = cmyk.pixels.data() + 4 * i;
    const int k = inverted ? p[3] : 255 - p[3];
    for (int c = 0; c < 3; ++c) {
      const int v = inverted ? p[c] : 255 - p[c];
      rgb.pixels[3 * i + size_t(c)] = uint8_t((v * k + 127) / 255);
    }
  }
  return rgb;
}

Image8 decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  JpegErrorManager err;
  err.message[0] = '\0';
  Image8 image;
  JpegDecoded info;
  if (!jpeg_decode_guarded(data, size, &err, &image, &info))
    throw ImageError(quoted(name) + ": corrupt or truncated JPEG (" + err.message + ")");
  if (info.stored_channels == 4) return cmyk_to_rgb(image, info.adobe_inverted);
  return image;
}

bool jpeg_encode_guarded(const Image8* image, int quality, JpegErrorManager* err, unsigned char** buffer,
                         unsigned long* buffer_size) {
  jpeg_compress_struct cinfo;
  cinfo.err = jpeg_std_error(&err->pub);
  err->pub.error_exit = jpeg_error_longjmp;
  if (setjmp(err->jump)) {
    jpeg_destroy_compress(&cinfo);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, buffer, buffer_size);
  cinfo.image_width = JDIMENSION(image->width);
  cinfo.image_height = JDIMENSION(image->height);
  cinfo.input_components = image->channels;
  cinfo.in_color_space = image->channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  cinfo.optimize_coding = TRUE;  // smaller files, still deterministic
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = size_t(image->width) * size_t(image->channels);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(image->pixels.data() + size_t(cinfo.next_scanline) * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

// ---------------------------------------------------------------------------------------------

bool starts_with(const uint8_t* data, size_t size, const char* magic, size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}

std::string other_format_name(const uint8_t* data, size_t size) {
  if (starts_with(data, size, "GIF8", 4)) return "GIF";
  if (starts_with(data, size, "BM", 2)) return "BMP";
  if (starts_with(data, size, "II*\0", 4) || starts_with(data, size, "MM\0*", 4)) return "TIFF";
  if (size >= 12 && std::memcmp(data, "RIFF", 4) == 0 && std::memcmp(data + 8, "WEBP", 4) == 0) return "WebP";
  return "";
}

void write_atomically(const std::string& path, const std::vector<uint8_t>& bytes) {
  try {
    write_file_atomic(path, reinterpret_cast<const char*>(bytes.data()), bytes.size());
  } catch (const std::runtime_error& e) {
    throw ImageError(std::string("writing image ") + quoted(path) + ": " + e.what());
  }
}

}  // namespace

namespace {
void check_dimensions(int width, int height, int channels, const std::string& what) {
  if (width <= 0 || height <= 0)
    throw ImageError(what + ": image size " + std::to_string(width) + "x" + std::to_string(height) + " is empty");
  if (channels != 1 && channels != 3 && channels != 4)
    throw ImageError(what + ": " + std::to_string(channels) + " channels (1, 3 or 4 are supported)");
  if (uint64_t(width) * uint64_t(height) * uint64_t(channels) > kMaxImageBytes)
    throw ImageError(what + ": image is too large");
}
}  // namespace

Image8::Image8(int width_, int height_, int channels_, uint8_t value)
    : width(width_), height(height_), channels(channels_) {
  check_dimensions(width, height, channels, "Image8");
  pixels.assign(size_bytes(), value);
}

void Image8::validate(const std::string& what) const {
  check_dimensions(width, height, channels, what);
  if (pixels.size() != size_bytes())
    throw ImageError(what + ": " + std::to_string(pixels.size()) + " pixel bytes for a " + std::to_string(width) +
                     "x" + std::to_string(height) + "x" + std::to_string(channels) + " image");
}

Image8 convert_channels(const Image8& image, int channels) {
  image.validate("convert_channels");
  if (channels != 1 && channels != 3 && channels != 4)
    throw ImageError("convert_channels: cannot convert to " + std::to_string(channels) + " channels (1, 3 or 4)");
  if (channels == image.channels) return image;
  Image8 out(image.width, image.height, channels);
  const size_t n = size_t(image.width) * size_t(image.height);
  const int cin = image.channels;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* p = image.pixels.data() + i * size_t(cin);
    uint8_t* q = out.pixels.data() + i * size_t(channels);
    uint8_t rgb[3];
    if (cin == 1) rgb[0] = rgb[1] = rgb[2] = p[0];
    else std::copy(p, p + 3, rgb);
    if (channels == 1) {
      q[0] = uint8_t((299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000);
    } else {
      std::copy(rgb, rgb + 3, q);
      if (channels == 4) q[3] = cin == 4 ? p[3] : 255;
    }
  }
  return out;
}

std::vector<uint8_t> encode_png(const Image8& image, int compression) {
  image.validate("encode_png");
  if (compression < 0 || compression > 9)
    throw ImageError("encode_png: compression level " + std::to_string(compression) + " is not in 0..9");
  std::vector<uint8_t> encoded;
  PngState state;
  state.encoded = &encoded;
  PngWriteHandles h;
  h.png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &state, png_error_longjmp, png_warning_ignore);
  if (!h.png) throw ImageError("encode_png: cannot initialise libpng");
  h.info = png_create_info_struct(h.png);
  if (!h.info) throw ImageError("encode_png: cannot initialise libpng");
  std::vector<png_bytep> rows(size_t(image.height));
  const size_t stride = size_t(image.width) * size_t(image.channels);
  for (int y = 0; y < image.height; ++y)
    rows[size_t(y)] = const_cast<png_bytep>(image.pixels.data() + size_t(y) * stride);
  if (!png_encode_guarded(h.png, h.info, &state, &image, &rows, compression))
    throw ImageError(std::string("encode_png: ") + state.message);
  return encoded;
}

std::vector<uint8_t> encode_jpeg(const Image8& image, int quality) {
  image.validate("encode_jpeg");
  if (image.channels == 4)
    throw ImageError("encode_jpeg: JPEG has no alpha channel; convert the RGBA image with convert_channels(image, 3)");
  if (quality < 1 || quality > 100)
    throw ImageError("encode_jpeg: quality " + std::to_string(quality) + " is not in 1..100");
  JpegErrorManager err;
  err.message[0] = '\0';
  unsigned char* buffer = nullptr;  // malloc'ed by libjpeg's memory destination
  unsigned long buffer_size = 0;
  const bool ok = jpeg_encode_guarded(&image, quality, &err, &buffer, &buffer_size);
  std::vector<uint8_t> encoded;
  if (ok && buffer) encoded.assign(buffer, buffer + buffer_size);
  std::free(buffer);
  if (!ok) throw ImageError(std::string("encode_jpeg: ") + err.message);
  return encoded;
}

Image8 decode_image(const uint8_t* data, size_t size, int force_channels, const std::string& name) {
  if (force_channels != 0 && force_channels != 1 && force_channels != 3 && force_channels != 4)
    throw ImageError(quoted(name) + ": force_channels must be 0 (as stored), 1, 3 or 4, not " +
                     std::to_string(force_channels));
  if (size == 0) throw ImageError(quoted(name) + " is empty (0 bytes), not an image");
  Image8 image;
  if (starts_with(data, size, "\x89PNG\r\n\x1a\n", 8)) {
    image = decode_png(data, size, name);
  } else if (starts_with(data, size, "\xff\xd8\xff", 3)) {
    image = decode_jpeg(data, size, name);
  } else {
    const std::string other = other_format_name(data, size);
    if (!other.empty()) throw ImageError(quoted(name) + " is a " + other + " image; only PNG and JPEG are supported");
    throw ImageError(quoted(name) + " is not a PNG or JPEG image (unrecognised content)");
  }
  if (force_channels != 0 && force_channels != image.channels) image = convert_channels(image, force_channels);
  return image;
}

void write_png(const std::string& path, const Image8& image, int compression) {
  write_atomically(path, encode_png(image, compression));
}

void write_jpeg(const std::string& path, const Image8& image, int quality) {
  write_atomically(path, encode_jpeg(image, quality));
}

Image8 read_image(const std::string& path, int force_channels) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw ImageError("image " + quoted(path) + " does not exist");
  if (S_ISDIR(st.st_mode)) throw ImageError("image " + quoted(path) + " is a directory, not a file");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw ImageError("cannot open image " + quoted(path) + " (permissions?)");
  std::vector<uint8_t> bytes(size_t(st.st_size));
  if (!bytes.empty() && !f.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(bytes.size())))
    throw ImageError("reading image " + quoted(path) + " failed");
  return decode_image(bytes.data(), bytes.size(), force_channels, path);
}

}  // namespace jess

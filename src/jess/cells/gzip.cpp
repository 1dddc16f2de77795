#include "jess/cells/gzip.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <stdexcept>

namespace jess::cells {

bool is_gzip(std::string_view bytes) {
  return bytes.size() >= 2 && uint8_t(bytes[0]) == 0x1f && uint8_t(bytes[1]) == 0x8b;
}

namespace {

struct Inflater {
  z_stream z{};
  bool open = false;
  ~Inflater() {
    if (open) inflateEnd(&z);
  }
};

// gzip's trailer holds the inflated size modulo 2^32: a good first guess for the output buffer (one
// allocation instead of repeated doubling for the 100 MB HSMM matrix). Capped, since a truncated or
// concatenated stream makes the trailer meaningless.
size_t initial_output_size(std::string_view compressed) {
  size_t hint = 0;
  if (compressed.size() >= 18) {
    const auto* t = reinterpret_cast<const uint8_t*>(compressed.data() + compressed.size() - 4);
    hint = size_t(t[0]) | size_t(t[1]) << 8 | size_t(t[2]) << 16 | size_t(t[3]) << 24;
  }
  const size_t cap = std::min<size_t>(compressed.size() * 64 + (1u << 20), size_t(1) << 31);
  // + 64: room to spare, so the buffer is not full (and doubled) just before zlib reads the trailer.
  return std::clamp<size_t>(hint, 1u << 16, cap) + 64;
}

}  // namespace

std::string gunzip(std::string_view compressed, const std::string& source) {
  std::string out(initial_output_size(compressed), '\0');
  Inflater inf;
  if (inflateInit2(&inf.z, 15 + 16) != Z_OK) throw std::runtime_error("'" + source + "': cannot initialise zlib");
  inf.open = true;
  auto* next_in = reinterpret_cast<const Bytef*>(compressed.data());
  size_t in_left = compressed.size();
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) out.resize(out.size() * 2);
    // zlib counts in 32-bit units: feed and drain at most 1 GiB per call.
    const uInt in_chunk = uInt(std::min<size_t>(in_left, 1u << 30));
    const uInt out_chunk = uInt(std::min<size_t>(out.size() - produced, 1u << 30));
    inf.z.next_in = const_cast<Bytef*>(next_in);
    inf.z.avail_in = in_chunk;
    inf.z.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    inf.z.avail_out = out_chunk;
    const int rc = inflate(&inf.z, Z_NO_FLUSH);
    next_in += in_chunk - inf.z.avail_in;
    in_left -= in_chunk - inf.z.avail_in;
    produced += out_chunk - inf.z.avail_out;
    if (rc == Z_STREAM_END) {
      // Another gzip member may follow; trailing zero padding (some tools write it) is ignored.
      if (in_left < 2 || uint8_t(next_in[0]) != 0x1f || uint8_t(next_in[1]) != 0x8b) break;
      inflateReset(&inf.z);
      continue;
    }
    if (rc == Z_BUF_ERROR && in_left == 0 && inf.z.avail_out > 0)
      throw std::runtime_error("'" + source + "' is truncated: the gzip stream ends after " +
                               std::to_string(compressed.size()) + " compressed bytes, before its end marker");
    if (rc != Z_OK && rc != Z_BUF_ERROR)
      throw std::runtime_error("'" + source + "' is not a valid gzip stream (zlib: " +
                               (inf.z.msg ? std::string(inf.z.msg) : "error " + std::to_string(rc)) + ")");
  }
  out.resize(produced);
  return out;
}

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw std::runtime_error("cannot read '" + path + "' (is it a regular file?)");
  in.seekg(0);
  std::string bytes(size_t(size), '\0');
  if (!in.read(bytes.data(), size)) throw std::runtime_error("cannot read '" + path + "'");
  return bytes;
}

std::string read_file_decompressed(const std::string& path) {
  std::string bytes = read_file_bytes(path);
  if (is_gzip(bytes)) return gunzip(bytes, path);
  return bytes;
}

}  // namespace jess::cells

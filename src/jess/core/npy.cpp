#include "jess/core/npy.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <regex>
#include <sstream>

namespace jess {

int64_t NpyArray::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

namespace {
template <typename T>
T byteswapped(T v) {
  unsigned char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  for (size_t i = 0; i < sizeof(T) / 2; ++i) std::swap(b[i], b[sizeof(T) - 1 - i]);
  std::memcpy(&v, b, sizeof(T));
  return v;
}

template <typename T>
void convert(const std::vector<char>& raw, bool swap, std::vector<double>& out) {
  const size_t n = raw.size() / sizeof(T);
  out.resize(n);
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
    out[i] = double(swap ? byteswapped(v) : v);
  }
}

void write_npy_raw(const std::string& path, const char* bytes, size_t nbytes, const std::string& descr,
                   const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < shape.size(); ++i) dict += std::to_string(shape[i]) + (shape.size() == 1 ? "," : (i + 1 < shape.size() ? ", " : ""));
  dict += "), }";
  // Pad so that the data starts on a 64-byte boundary, as NumPy does.
  size_t header_len = dict.size() + 1;
  size_t total = 10 + header_len;
  size_t pad = (64 - total % 64) % 64;
  dict += std::string(pad, ' ') + "\n";
  const bool v2 = dict.size() > 65535;
  std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream f(tmp, std::ios::binary);
    if (!f) throw NpyError("cannot write '" + path + "': " + std::strerror(errno));
    f.write("\x93NUMPY", 6);
    if (v2) {
      char ver[2] = {2, 0};
      f.write(ver, 2);
      uint32_t len = uint32_t(dict.size());
      f.write(reinterpret_cast<const char*>(&len), 4);
    } else {
      char ver[2] = {1, 0};
      f.write(ver, 2);
      uint16_t len = uint16_t(dict.size());
      f.write(reinterpret_cast<const char*>(&len), 2);
    }
    f.write(dict.data(), std::streamsize(dict.size()));
    f.write(bytes, std::streamsize(nbytes));
    f.close();  // the last buffered bytes reach the disk here: a full disk or a file-size limit shows now
    if (!f) {
      std::remove(tmp.c_str());
      throw NpyError("writing '" + path + "' failed (disk full, or a file-size limit?); the previous file, if "
                     "any, is unchanged");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmp.c_str());
    throw NpyError("cannot write '" + path + "': " + std::strerror(err));
  }
}
}  // namespace

namespace {
struct NpyHeader {
  std::vector<int64_t> shape;
  std::string dtype;
  bool fortran = false;
  bool swap = false;
  size_t itemsize = 0;
  std::string kind;
};

NpyHeader read_header(std::ifstream& f, const std::string& path) {
  if (!f) throw NpyError("cannot open '" + path + "'");
  char magic[8];
  if (!f.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw NpyError("'" + path + "' is not a .npy file (bad magic string)");
  const int major = (unsigned char)magic[6];
  uint32_t header_len = 0;
  if (major == 1) {
    uint16_t len;
    if (!f.read(reinterpret_cast<char*>(&len), 2)) throw NpyError("'" + path + "': truncated header");
    header_len = len;
  } else if (major == 2 || major == 3) {
    if (!f.read(reinterpret_cast<char*>(&header_len), 4)) throw NpyError("'" + path + "': truncated header");
  } else {
    throw NpyError("'" + path + "': unsupported .npy format version " + std::to_string(major));
  }
  if (header_len > (1u << 24)) throw NpyError("'" + path + "': implausible header length");
  std::string header(header_len, '\0');
  if (!f.read(header.data(), header_len)) throw NpyError("'" + path + "': truncated header");

  NpyHeader h;
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
    throw NpyError("'" + path + "': header has no 'descr'");
  h.dtype = m[1];
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*(True|False)"))) h.fortran = m[1] == "True";
  else throw NpyError("'" + path + "': header has no 'fortran_order'");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw NpyError("'" + path + "': header has no 'shape'");
  {
    std::string dims = m[1];
    std::stringstream ss(dims);
    std::string tok;
    while (std::getline(ss, tok, ',')) {
      tok.erase(0, tok.find_first_not_of(" \t"));
      tok.erase(tok.find_last_not_of(" \tL") + 1);
      if (tok.empty()) continue;
      errno = 0;
      char* end = nullptr;
      const long long d = std::strtoll(tok.c_str(), &end, 10);
      if (end == tok.c_str() || *end != '\0' || errno == ERANGE)
        throw NpyError("'" + path + "': shape entry '" + tok.substr(0, 40) + "' is not a dimension");
      if (d < 0) throw NpyError("'" + path + "': negative dimension in shape");
      h.shape.push_back(d);
    }
    // The product of the dimensions must be representable (found by fuzz/fuzz_npy: it overflowed).
    int64_t total = 1;
    for (int64_t d : h.shape)
      if (__builtin_mul_overflow(total, d, &total))
        throw NpyError("'" + path + "': the shape declares more values than any file can hold");
  }
  const std::string& dt = h.dtype;
  if (dt.size() < 2) throw NpyError("'" + path + "': unsupported dtype '" + dt + "'");
  const char order = dt[0];
  h.kind = dt.substr(1);
  const bool little_host = [] {
    uint16_t x = 1;
    return *reinterpret_cast<unsigned char*>(&x) == 1;
  }();
  h.swap = (order == '>' && little_host) || (order == '<' && !little_host);
  return h;
}

bool is_string_kind(const std::string& kind) { return !kind.empty() && (kind[0] == 'U' || kind[0] == 'S'); }

// The numeric readers' header: sets the item size, or explains which reader a string array needs.
NpyHeader read_numeric_header(std::ifstream& f, const std::string& path) {
  NpyHeader h = read_header(f, path);
  if (h.kind == "f8" || h.kind == "i8") h.itemsize = 8;
  else if (h.kind == "f4" || h.kind == "i4") h.itemsize = 4;
  else if (h.kind == "u1") h.itemsize = 1;
  else if (is_string_kind(h.kind))
    throw NpyError("'" + path + "' holds strings (dtype '" + h.dtype + "'), not numbers: use read_npy_strings");
  else
    throw NpyError("'" + path + "': unsupported dtype '" + h.dtype + "' (float32/float64/int32/int64/uint8 are read)");
  return h;
}

// Column-major (Fortran) element order to row-major (C) order.
template <typename T>
void fortran_to_c_order(std::vector<T>& data, const std::vector<int64_t>& shape) {
  const size_t nd = shape.size();
  if (nd < 2) return;
  std::vector<T> c(data.size());
  std::vector<int64_t> idx(nd, 0);
  for (size_t lin = 0; lin < data.size(); ++lin) {
    // idx is the multi-index of element `lin` in Fortran order.
    int64_t c_off = 0;
    for (size_t d = 0; d < nd; ++d) c_off = c_off * shape[d] + idx[d];
    c[size_t(c_off)] = std::move(data[lin]);
    for (size_t d = 0; d < nd; ++d) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  data.swap(c);
}

void decode(const NpyHeader& h, const std::vector<char>& raw, std::vector<double>& out) {
  if (h.kind == "f8") convert<double>(raw, h.swap, out);
  else if (h.kind == "f4") convert<float>(raw, h.swap, out);
  else if (h.kind == "i8") convert<int64_t>(raw, h.swap, out);
  else if (h.kind == "u1") convert<uint8_t>(raw, false, out);
  else convert<int32_t>(raw, h.swap, out);
}
}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NpyHeader h = read_numeric_header(f, path);
  NpyArray out;
  out.shape = h.shape;
  out.source_dtype = h.dtype;
  const int64_t n = out.numel();
  // The declared size against the bytes there are, before allocating (found by fuzz/fuzz_npy: a header
  // declaring terabytes was allocated first).
  const std::streamoff data_start = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streamoff available = f.tellg() - data_start;
  f.seekg(data_start);
  if (n < 0 || (h.itemsize > 0 && uint64_t(n) > uint64_t(available) / uint64_t(h.itemsize)))
    throw NpyError("'" + path + "' is truncated: its header declares " + std::to_string(n) + " values of " +
                   std::to_string(h.itemsize) + " bytes, the file holds " + std::to_string(available) + " data bytes");
  std::vector<char> raw(size_t(n) * h.itemsize);
  if (!f.read(raw.data(), std::streamsize(raw.size())))
    throw NpyError("'" + path + "' is truncated: expected " + std::to_string(raw.size()) + " data bytes, found " +
                   std::to_string(f.gcount()));
  decode(h, raw, out.data);

  if (h.fortran) fortran_to_c_order(out.data, out.shape);
  return out;
}

namespace {
// Appends code point `cp` as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += char(cp);
  } else if (cp < 0x800) {
    out += char(0xC0 | (cp >> 6));
    out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += char(0xE0 | (cp >> 12));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  } else {
    out += char(0xF0 | (cp >> 18));
    out += char(0x80 | ((cp >> 12) & 0x3F));
    out += char(0x80 | ((cp >> 6) & 0x3F));
    out += char(0x80 | (cp & 0x3F));
  }
}

// Strict UTF-8 decoding (no overlong forms, surrogates or code points past U+10FFFF); false if invalid.
bool decode_utf8(const std::string& s, std::vector<uint32_t>& out) {
  out.clear();
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char b0 = static_cast<unsigned char>(s[i]);
    int extra = 0;
    uint32_t cp = 0, min_cp = 0;
    if (b0 < 0x80) { cp = b0; extra = 0; }
    else if ((b0 & 0xE0) == 0xC0) { cp = b0 & 0x1F; extra = 1; min_cp = 0x80; }
    else if ((b0 & 0xF0) == 0xE0) { cp = b0 & 0x0F; extra = 2; min_cp = 0x800; }
    else if ((b0 & 0xF8) == 0xF0) { cp = b0 & 0x07; extra = 3; min_cp = 0x10000; }
    else return false;
    for (int k = 1; k <= extra; ++k) {
      if (i + size_t(k) >= s.size()) return false;
      const unsigned char b = static_cast<unsigned char>(s[i + size_t(k)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.push_back(cp);
    i += size_t(extra) + 1;
  }
  return true;
}

// Parses the count in "U40" / "S40".
size_t string_item_length(const std::string& kind, const std::string& path, const std::string& dtype) {
  const std::string digits = kind.substr(1);
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 9)
    throw NpyError("'" + path + "': malformed string dtype '" + dtype + "'");
  return size_t(std::stoul(digits));
}
}  // namespace

std::vector<std::string> read_npy_strings(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NpyHeader h = read_header(f, path);
  if (h.kind == "O")
    throw NpyError("'" + path + "' is an object array (pickled Python objects), which is not read; save it with "
                   "np.save(path, np.array(values, dtype=str))");
  if (!is_string_kind(h.kind))
    throw NpyError("'" + path + "' holds dtype '" + h.dtype + "', not strings: use read_npy");
  const bool unicode = h.kind[0] == 'U';
  const size_t length = string_item_length(h.kind, path, h.dtype);
  // NumPy never writes zero-width strings (its narrowest is '<U1'); n of them would cost n std::strings
  // and no file bytes (a 200-byte file asked for 6e11: fuzz/fuzz_npy).
  if (length == 0) throw NpyError("'" + path + "': zero-width strings (dtype '" + h.dtype + "') hold nothing");
  const size_t itemsize = unicode ? 4 * length : length;
  int64_t n = 1;
  for (auto d : h.shape) n *= d;  // representable: read_header checked the product
  // Compare with the bytes present before allocating, so a corrupt shape cannot ask for gigabytes.
  const std::streamoff data_start = f.tellg();
  f.seekg(0, std::ios::end);
  const std::streamoff available = f.tellg() - data_start;
  f.seekg(data_start);
  uint64_t expected = 0;
  if (__builtin_mul_overflow(uint64_t(n), uint64_t(itemsize), &expected) || uint64_t(available) < expected)
    throw NpyError("'" + path + "' is truncated: expected " + std::to_string(expected) + " data bytes, found " +
                   std::to_string(available));
  std::vector<char> raw(expected);
  if (!raw.empty() && !f.read(raw.data(), std::streamsize(raw.size())))
    throw NpyError("reading '" + path + "' failed");
  std::vector<std::string> out(static_cast<size_t>(n));
  for (size_t i = 0; i < out.size(); ++i) {
    const char* item = raw.data() + i * itemsize;
    std::string& s = out[i];
    // NumPy pads with NULs and, reading an element, strips trailing ones only.
    if (unicode) {
      std::vector<uint32_t> cps(length);
      for (size_t k = 0; k < length; ++k) {
        std::memcpy(&cps[k], item + 4 * k, 4);
        if (h.swap) cps[k] = byteswapped(cps[k]);
      }
      while (!cps.empty() && cps.back() == 0) cps.pop_back();
      for (uint32_t cp : cps) {
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
          throw NpyError("'" + path + "': string " + std::to_string(i) + " holds an invalid code point");
        append_utf8(s, cp);
      }
    } else {
      size_t end = length;
      while (end > 0 && item[end - 1] == '\0') --end;
      s.assign(item, end);
    }
  }
  if (h.fortran) fortran_to_c_order(out, h.shape);
  return out;
}

struct NpyRowReader::Impl {
  std::ifstream f;
  NpyHeader h;
  std::string path;
  NpyArray whole;  // Fortran order only
  bool buffered = false;
};

NpyRowReader::NpyRowReader(const std::string& path) {
  // Owned until the end: a header error, a wrong rank or a bad Fortran-order payload frees it (the
  // fuzzer found the message reading the shape after the free, and the leak on a bad header).
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->f.open(path, std::ios::binary);
  impl->h = read_numeric_header(impl->f, path);
  const auto& s = impl->h.shape;
  if (s.size() != 2)
    throw NpyError("'" + path + "': expected a 2-D array (samples x features), got " + std::to_string(s.size()) +
                   " dimensions");
  rows_ = s[0];
  cols_ = s[1];
  dtype_ = impl->h.dtype;
  if (impl->h.fortran) {
    impl->f.close();
    impl->whole = read_npy(path);
    impl->buffered = true;
  }
  impl_ = impl.release();
}

NpyRowReader::~NpyRowReader() { delete impl_; }

int64_t NpyRowReader::next(int64_t max_rows, std::vector<double>& out) {
  const int64_t n = std::min(max_rows, rows_ - done_);
  if (n <= 0) return 0;
  if (impl_->buffered) {
    out.assign(impl_->whole.data.begin() + done_ * cols_, impl_->whole.data.begin() + (done_ + n) * cols_);
  } else {
    std::vector<char> raw(size_t(n * cols_) * impl_->h.itemsize);
    if (!impl_->f.read(raw.data(), std::streamsize(raw.size())))
      throw NpyError("'" + impl_->path + "' is truncated at row " + std::to_string(done_ + impl_->f.gcount() /
                     std::streamsize(impl_->h.itemsize * size_t(cols_))) + " of " + std::to_string(rows_));
    decode(impl_->h, raw, out);
  }
  done_ += n;
  return n;
}

void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  write_npy_raw(path, reinterpret_cast<const char*>(data), size_t(n) * 8, "<f8", shape);
}

void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  write_npy_raw(path, reinterpret_cast<const char*>(data), size_t(n) * 4, "<f4", shape);
}

void write_npy_i64(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  write_npy_raw(path, reinterpret_cast<const char*>(data), size_t(n) * 8, "<i8", shape);
}

void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  write_npy_raw(path, reinterpret_cast<const char*>(data), size_t(n), "|u1", shape);
}

void write_npy_strings(const std::string& path, const std::vector<std::string>& strings) {
  std::vector<std::vector<uint32_t>> code_points(strings.size());
  size_t length = 1;  // NumPy's dtype for empty strings is still "<U1"
  for (size_t i = 0; i < strings.size(); ++i) {
    if (!decode_utf8(strings[i], code_points[i]))
      throw NpyError("write_npy_strings '" + path + "': string " + std::to_string(i) + " is not valid UTF-8");
    if (!code_points[i].empty() && code_points[i].back() == 0)
      throw NpyError("write_npy_strings '" + path + "': string " + std::to_string(i) +
                     " ends with a NUL character, which NumPy's fixed-width strings drop");
    length = std::max(length, code_points[i].size());
  }
  const uint16_t probe = 1;
  const bool big_endian_host = *reinterpret_cast<const unsigned char*>(&probe) != 1;
  std::vector<uint32_t> utf32(strings.size() * length, 0);
  for (size_t i = 0; i < strings.size(); ++i)
    for (size_t k = 0; k < code_points[i].size(); ++k)  // "<U" is little-endian whatever the host
      utf32[i * length + k] = big_endian_host ? byteswapped(code_points[i][k]) : code_points[i][k];
  write_npy_raw(path, reinterpret_cast<const char*>(utf32.data()), utf32.size() * 4, "<U" + std::to_string(length),
                {int64_t(strings.size())});
}

}  // namespace jess

#include "jess/core/npy.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
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
    if (!f) throw NpyError("cannot write '" + tmp + "'");
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
    if (!f) throw NpyError("write to '" + tmp + "' failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw NpyError("cannot rename '" + tmp + "' to '" + path + "'");
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
      long long d = std::atoll(tok.c_str());
      if (d < 0) throw NpyError("'" + path + "': negative dimension in shape");
      h.shape.push_back(d);
    }
  }
  const std::string& dt = h.dtype;
  if (dt.size() < 3) throw NpyError("'" + path + "': unsupported dtype '" + dt + "'");
  const char order = dt[0];
  h.kind = dt.substr(1);
  const bool little_host = [] {
    uint16_t x = 1;
    return *reinterpret_cast<unsigned char*>(&x) == 1;
  }();
  h.swap = (order == '>' && little_host) || (order == '<' && !little_host);
  if (h.kind == "f8" || h.kind == "i8") h.itemsize = 8;
  else if (h.kind == "f4" || h.kind == "i4") h.itemsize = 4;
  else throw NpyError("'" + path + "': unsupported dtype '" + dt + "' (float32/float64/int32/int64 are read)");
  return h;
}

void decode(const NpyHeader& h, const std::vector<char>& raw, std::vector<double>& out) {
  if (h.kind == "f8") convert<double>(raw, h.swap, out);
  else if (h.kind == "f4") convert<float>(raw, h.swap, out);
  else if (h.kind == "i8") convert<int64_t>(raw, h.swap, out);
  else convert<int32_t>(raw, h.swap, out);
}
}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  NpyHeader h = read_header(f, path);
  NpyArray out;
  out.shape = h.shape;
  out.source_dtype = h.dtype;
  const int64_t n = out.numel();
  std::vector<char> raw(size_t(n) * h.itemsize);
  if (!f.read(raw.data(), std::streamsize(raw.size())))
    throw NpyError("'" + path + "' is truncated: expected " + std::to_string(raw.size()) + " data bytes, found " +
                   std::to_string(f.gcount()));
  decode(h, raw, out.data);

  if (h.fortran && out.shape.size() > 1) {
    // Reorder column-major into row-major.
    std::vector<double> c(out.data.size());
    const size_t nd = out.shape.size();
    std::vector<int64_t> idx(nd, 0);
    for (int64_t lin = 0; lin < n; ++lin) {
      // idx is the multi-index of element `lin` in Fortran order.
      int64_t c_off = 0;
      for (size_t d = 0; d < nd; ++d) c_off = c_off * out.shape[d] + idx[d];
      c[size_t(c_off)] = out.data[size_t(lin)];
      for (size_t d = 0; d < nd; ++d) {
        if (++idx[d] < out.shape[d]) break;
        idx[d] = 0;
      }
    }
    out.data.swap(c);
  }
  return out;
}

struct NpyRowReader::Impl {
  std::ifstream f;
  NpyHeader h;
  std::string path;
  NpyArray whole;  // Fortran order only
  bool buffered = false;
};

NpyRowReader::NpyRowReader(const std::string& path) : impl_(new Impl) {
  impl_->path = path;
  impl_->f.open(path, std::ios::binary);
  impl_->h = read_header(impl_->f, path);
  const auto& s = impl_->h.shape;
  if (s.size() != 2) {
    delete impl_;
    throw NpyError("'" + path + "': expected a 2-D array (samples x features), got " + std::to_string(s.size()) +
                   " dimensions");
  }
  rows_ = s[0];
  cols_ = s[1];
  dtype_ = impl_->h.dtype;
  if (impl_->h.fortran) {
    impl_->f.close();
    impl_->whole = read_npy(path);
    impl_->buffered = true;
  }
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

}  // namespace jess

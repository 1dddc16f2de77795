#include "jess/vision/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"

namespace jess::vision {

int64_t IdxArray::count() const {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

namespace {

struct GzFile {
  gzFile f = nullptr;
  ~GzFile() {
    if (f) gzclose(f);
  }
};

// Reads exactly n bytes; returns how many were available.
size_t read_bytes(gzFile f, uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    const unsigned chunk = unsigned(std::min<size_t>(n - done, 1u << 30));
    const int got = gzread(f, out + done, chunk);
    if (got <= 0) break;
    done += size_t(got);
  }
  return done;
}

int element_size(uint8_t type) {
  switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
  }
}

double decode(uint8_t type, const uint8_t* p) {
  uint64_t u = 0;
  const int size = element_size(type);
  for (int i = 0; i < size; ++i) u = (u << 8) | p[i];  // big-endian
  switch (type) {
    case 0x08: return double(uint8_t(u));
    case 0x09: return double(int8_t(uint8_t(u)));
    case 0x0B: return double(int16_t(uint16_t(u)));
    case 0x0C: return double(int32_t(uint32_t(u)));
    case 0x0D: { uint32_t b = uint32_t(u); float f; std::memcpy(&f, &b, 4); return double(f); }
    default: { double d; std::memcpy(&d, &u, 8); return d; }
  }
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  if (!file_exists(path)) throw IdxError("'" + path + "' does not exist");
  GzFile g;
  g.f = gzopen(path.c_str(), "rb");
  if (!g.f) throw IdxError("cannot open '" + path + "'");
  uint8_t magic[4];
  if (read_bytes(g.f, magic, 4) != 4) throw IdxError("'" + path + "' is truncated: shorter than the 4-byte IDX magic");
  IdxArray a;
  a.type = magic[2];
  const int size = element_size(a.type);
  if (magic[0] != 0 || magic[1] != 0 || size == 0)
    throw IdxError("'" + path + "' is not an IDX file (magic bytes " + std::to_string(magic[0]) + " " +
                   std::to_string(magic[1]) + " " + std::to_string(magic[2]) + ")");
  const int ndims = magic[3];
  if (ndims < 1) throw IdxError("'" + path + "' declares no dimensions");
  std::vector<uint8_t> header(size_t(4 * ndims));
  if (read_bytes(g.f, header.data(), header.size()) != header.size())
    throw IdxError("'" + path + "' is truncated inside its header of " + std::to_string(ndims) + " sizes");
  int64_t count = 1;
  for (int d = 0; d < ndims; ++d) {
    const uint8_t* p = &header[size_t(4 * d)];
    const int64_t n = int64_t((uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3]);
    if (n > (int64_t(1) << 31) - 1 || (n > 0 && count > (int64_t(1) << 40) / n))
      throw IdxError("'" + path + "' declares an absurd size (" + std::to_string(n) + " in dimension " +
                     std::to_string(d) + ")");
    a.dims.push_back(n);
    count *= n;
  }
  // The declared size is trusted only as far as bytes arrive: read in 16 MiB chunks (a corrupt header
  // declaring 69 GB must be a "truncated" error, not an attempt to allocate it; found by fuzz/fuzz_idx).
  const size_t want = size_t(count * size);
  std::vector<uint8_t> raw;
  size_t got = 0;
  while (got < want) {
    const size_t chunk = std::min(want - got, size_t(16) << 20);
    raw.resize(got + chunk);
    const size_t n = read_bytes(g.f, raw.data() + got, chunk);
    got += n;
    if (n < chunk) break;
  }
  raw.resize(got);
  if (got != want)
    throw IdxError("'" + path + "' is truncated: " + std::to_string(got / size_t(size)) + " of " +
                   std::to_string(count) + " elements present");
  uint8_t extra;
  if (read_bytes(g.f, &extra, 1) != 0) throw IdxError("'" + path + "' has bytes after the declared data (not IDX?)");
  int err = 0;
  gzerror(g.f, &err);
  if (err != Z_OK && err != Z_STREAM_END) throw IdxError("'" + path + "': corrupt gzip stream");
  if (a.type == 0x08) {
    a.bytes = std::move(raw);
  } else {
    a.values.resize(size_t(count));
    for (int64_t i = 0; i < count; ++i) a.values[size_t(i)] = decode(a.type, &raw[size_t(i * size)]);
  }
  return a;
}

void write_idx_u8(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out = {0, 0, 0x08, uint8_t(dims.size())};
  for (int64_t d : dims)
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t((uint64_t(d) >> s) & 0xFF));
  out.insert(out.end(), data.begin(), data.end());
  const bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  gzFile f = gzopen(path.c_str(), gz ? "wb" : "wbT");  // T: plain, no gzip header
  if (!f) throw IdxError("cannot write '" + path + "'");
  const int wrote = gzwrite(f, out.data(), unsigned(out.size()));
  gzclose(f);
  if (wrote != int(out.size())) throw IdxError("short write to '" + path + "'");
}

const char* default_fashion_mnist_dir() { return "/usr/share/datasets/fashion-mnist"; }

ImageSet load_mnist_layout(const std::string& dir, const std::string& split) {
  if (split != "train" && split != "test") throw IdxError("split must be train or test, not '" + split + "'");
  const std::string stem = dir + "/" + (split == "train" ? "train" : "t10k");
  auto pick = [&](const std::string& name) {
    const std::string gz = stem + name + ".gz";
    return file_exists(gz) ? gz : stem + name;
  };
  const std::string images_path = pick("-images-idx3-ubyte"), labels_path = pick("-labels-idx1-ubyte");
  if (!file_exists(images_path))
    throw IdxError("no " + split + " images in '" + dir + "' (expected " + images_path +
                   "; Debian: apt-get install dataset-fashion-mnist)");
  IdxArray im = read_idx(images_path), lb = read_idx(labels_path);
  if (im.type != 0x08 || im.dims.size() != 3) throw IdxError("'" + images_path + "' is not (n, height, width) bytes");
  if (lb.type != 0x08 || lb.dims.size() != 1) throw IdxError("'" + labels_path + "' is not (n,) bytes");
  if (im.dims[0] != lb.dims[0])
    throw IdxError("'" + images_path + "' holds " + std::to_string(im.dims[0]) + " images but '" + labels_path +
                   "' " + std::to_string(lb.dims[0]) + " labels");
  ImageSet s;
  s.n = im.dims[0], s.height = im.dims[1], s.width = im.dims[2];
  s.pixels = std::move(im.bytes);
  s.labels.assign(lb.bytes.begin(), lb.bytes.end());
  s.classes = s.labels.empty() ? 0 : *std::max_element(s.labels.begin(), s.labels.end()) + 1;
  return s;
}

namespace {
std::string rendered_file(const std::string& data) {
  if (is_directory(data)) return file_exists(data + "/dataset.h5") ? data + "/dataset.h5" : "";
  return data.size() > 3 && data.compare(data.size() - 3, 3, ".h5") == 0 && file_exists(data) ? data : "";
}
}  // namespace

bool is_rendered_dataset(const std::string& data) { return !rendered_file(data).empty(); }

bool is_factor_set_file(const std::string& data) {
  if (is_directory(data) || !file_exists(data) || data.size() < 3 || data.compare(data.size() - 3, 3, ".h5") != 0) return false;
  H5Reader r(data);
  return r.has_attr("/", "format") && r.attr_string("/", "format").rfind("jess render factors", 0) == 0;
}

namespace {
ImageSet load_factor_set(const std::string& path, const std::string& split, int64_t max_images) {
  if (split != "train" && split != "test") throw IdxError("split must be train or test, not '" + split + "'");
  H5Reader r(path);
  const auto shape = r.shape("images");
  const int64_t N = int64_t(shape[0]), S = int64_t(shape[1]);
  const auto labels = r.read_i64("labels"), object = r.read_i64("object"), set = r.read_i64("set");
  ImageSet s;
  s.height = s.width = S;
  s.channels = 3;
  s.classes = int64_t(r.read_strings("classes").size());
  s.set_names = r.read_strings("set_names");
  const auto hwc = r.read_u8("images");
  for (int64_t i = 0; i < N; ++i) {
    if (split == "test" && set[size_t(i)] != 0) continue;
    if (max_images > 0 && s.n >= max_images) break;
    const size_t base = s.pixels.size();
    s.pixels.resize(base + size_t(3 * S * S));
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < S * S; ++p) s.pixels[base + size_t(c * S * S + p)] = hwc[size_t((i * S * S + p) * 3 + c)];
    s.labels.push_back(labels[size_t(i)]);
    s.instance.push_back(object[size_t(i)]);
    s.set.push_back(set[size_t(i)]);
    ++s.n;
  }
  if (s.n == 0) throw IdxError("'" + path + "' has no images for the " + split + " split");
  return s;
}
}  // namespace

ImageSet load_image_set(const std::string& data, const std::string& split, int64_t max_images) {
  if (is_factor_set_file(data)) return load_factor_set(data, split, max_images);
  const std::string h5 = rendered_file(data);
  if (h5.empty()) {
    ImageSet s = load_mnist_layout(data, split);
    if (max_images > 0 && max_images < s.n) {
      s.pixels.resize(size_t(max_images * s.height * s.width * s.channels));
      s.labels.resize(size_t(max_images));
      s.n = max_images;
    }
    return s;
  }
  if (split != "train" && split != "test") throw IdxError("split must be train or test, not '" + split + "'");
  H5Reader r(h5);
  const int64_t V = r.attr_int("/", "views"), S = r.attr_int("/", "image_size");
  const auto split_of = r.read_i64("split"), labels = r.read_i64("labels");
  ImageSet s;
  s.height = s.width = S;
  s.channels = 3;
  s.classes = int64_t(r.read_strings("classes").size());
  const int64_t want = split == "train" ? 0 : 1;
  for (size_t o = 0; o < split_of.size(); ++o) {
    if (split_of[o] != want) continue;
    int64_t take = V;
    if (max_images > 0) take = std::min<int64_t>(V, max_images - s.n);
    if (take <= 0) break;
    const auto hwc = r.read_rows_u8("images", uint64_t(int64_t(o) * V), uint64_t(take));
    const size_t base = s.pixels.size();
    s.pixels.resize(base + size_t(take * 3 * S * S));
    for (int64_t v = 0; v < take; ++v)  // HWC -> CHW
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t p = 0; p < S * S; ++p)
          s.pixels[base + size_t((v * 3 + c) * S * S + p)] = hwc[size_t((v * S * S + p) * 3 + c)];
    for (int64_t v = 0; v < take; ++v) s.labels.push_back(labels[o]);
    s.n += take;
  }
  if (s.n == 0) throw IdxError("'" + h5 + "' has no " + std::string(split == "train" ? "train" : "val") + " objects");
  return s;
}

}  // namespace jess::vision

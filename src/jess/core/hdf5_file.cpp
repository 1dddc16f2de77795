#include "jess/core/hdf5_file.h"

#include <fcntl.h>
#include <hdf5.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

namespace jess {
namespace {

// Silence HDF5's own error stack printing: every failure becomes an H5Error with context.
// And no clean-up at exit: a file whose write failed (disk full, a file-size limit) stays in HDF5's list
// of open files after H5Fclose fails, and the library's atexit handler then crashes flushing it again
// (measured: SIGSEGV after a clean error message). Every jess handle is closed by RAII before exit, so the
// handler has nothing else to do. H5dont_atexit must precede the library's initialisation.
struct SilenceHdf5 {
  SilenceHdf5() {
    H5dont_atexit();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  }
};
const SilenceHdf5 kSilence;

struct Handle {  // closes an hid_t with the matching function
  hid_t id;
  herr_t (*close)(hid_t);
  Handle(hid_t i, herr_t (*c)(hid_t)) : id(i), close(c) {}
  ~Handle() {
    if (id >= 0) close(id);
  }
  operator hid_t() const { return id; }
};

void ok(herr_t status, const std::string& what) {
  if (status < 0) throw H5Error("HDF5: " + what + " failed");
}

// Data writes go to the writer's temporary file, which is removed on failure.
void ok_write(herr_t status, const std::string& what) {
  if (status < 0)
    throw H5Error("HDF5: " + what + " failed (disk full, or a file-size limit?); the output file was not written "
                  "and the previous one, if any, is unchanged");
}

// Opens a dataset to read and checks the chunk layout the file declares against its dataspace before any
// read: libhdf5 1.10 trusts it, and a chunk of another rank than the data (found by fuzzing a rendered
// factor set) makes H5Dread allocate without bound (tens of GB; h5py fails the same way).
hid_t open_dataset_to_read(hid_t file, const std::string& name, const std::string& path) {
  const hid_t ds = H5Dopen2(file, name.c_str(), H5P_DEFAULT);
  if (ds < 0) return ds;
  Handle space(H5Dget_space(ds), H5Sclose);
  Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  Handle type(H5Dget_type(ds), H5Tclose);
  const int rank = space.id < 0 ? -1 : H5Sget_simple_extent_ndims(space);
  bool sound = rank >= 0 && dcpl.id >= 0 && type.id >= 0;
  if (sound && H5Pget_layout(dcpl) == H5D_CHUNKED) {
    hsize_t chunk[H5S_MAX_RANK + 1] = {0};
    const int chunk_rank = H5Pget_chunk(dcpl, H5S_MAX_RANK + 1, chunk);
    double bytes = double(H5Tget_size(type));
    sound = chunk_rank == rank;
    for (int i = 0; sound && i < chunk_rank; ++i) {
      sound = chunk[i] >= 1;
      bytes *= double(chunk[i]);
    }
    sound = sound && bytes <= 4294967295.0;  // HDF5's own limit on one chunk
  }
  // Numbers must be IEEE floats or whole-byte integers: libhdf5 converts any declared bit layout, and a
  // corrupt one (a precision or field position outside the type, found by fuzzing) crashes its converter.
  const H5T_class_t type_class = sound ? H5Tget_class(type) : H5T_NO_CLASS;
  if (type_class == H5T_FLOAT) {
    sound = H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0 ||
            H5Tequal(type, H5T_IEEE_F64LE) > 0 || H5Tequal(type, H5T_IEEE_F64BE) > 0;
  } else if (type_class == H5T_INTEGER) {
    const size_t size = H5Tget_size(type);
    sound = (size == 1 || size == 2 || size == 4 || size == 8) && H5Tget_precision(type) == 8 * size &&
            H5Tget_offset(type) == 0;
  }
  if (!sound) {
    H5Dclose(ds);
    throw H5Error(path + ": dataset '" + name + "' has a corrupt or unsupported layout or number type (jess reads "
                  "IEEE floats and whole-byte integers in chunks that match the data's shape)");
  }
  return ds;
}

// Checks every variable-length string of a contiguous dataset against the global heap it points into,
// before H5Dread follows the references: libhdf5 1.10 trusts a heap object's index (found by fuzzing:
// a corrupt index makes H5HG_read read out of bounds and crash, in h5py too). The layout is the one jess
// and h5py write; other layouts are read unchecked.
void check_vlen_string_heap(hid_t file, hid_t ds, uint64_t n, const std::string& name, const std::string& path) {
  Handle dcpl(H5Dget_create_plist(ds), H5Pclose);
  if (dcpl.id < 0 || H5Pget_layout(dcpl) != H5D_CONTIGUOUS) return;
  const haddr_t offset = H5Dget_offset(ds);
  if (offset == HADDR_UNDEF) return;  // never written: reads as empty strings
  Handle fcpl(H5Fget_create_plist(file), H5Pclose);
  size_t sizeof_addr = 8, sizeof_size = 8;
  hsize_t base = 0, file_size = 0;
  if (fcpl.id < 0 || H5Pget_sizes(fcpl, &sizeof_addr, &sizeof_size) < 0 || H5Pget_userblock(fcpl, &base) < 0 ||
      H5Fget_filesize(file, &file_size) < 0 || sizeof_addr > 8 || sizeof_size > 8)
    return;
  const auto corrupt = [&](const std::string& why) {
    return H5Error(path + ": dataset '" + name + "' is corrupt (" + why + ")");
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct Close {
    int fd;
    ~Close() { ::close(fd); }
  } close_fd{fd};
  const auto read_at = [&](uint64_t at, uint64_t bytes, std::vector<uint8_t>& out) {
    if (at > file_size || bytes > file_size - at) throw corrupt("a reference points past the end of the file");
    out.resize(size_t(bytes));
    if (::pread(fd, out.data(), size_t(bytes), off_t(at)) != ssize_t(bytes)) throw corrupt("short read");
  };
  const auto le = [](const uint8_t* p, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
  };
  const uint64_t ref_size = 4 + sizeof_addr + 4;  // sequence length, heap collection address, object index
  if (n > file_size / ref_size) throw corrupt("more strings than the file can hold");
  std::vector<uint8_t> refs, heap;
  read_at(base + offset, n * ref_size, refs);
  std::map<uint64_t, std::map<uint64_t, uint64_t>> heaps;  // collection address -> object index -> size
  for (uint64_t i = 0; i < n; ++i) {
    const uint8_t* r = refs.data() + i * ref_size;
    const uint64_t length = le(r, 4), address = le(r + 4, sizeof_addr), index = le(r + 4 + sizeof_addr, 4);
    if (length == 0 || address == 0) continue;  // an empty string: HDF5 does not follow it
    auto it = heaps.find(address);
    if (it == heaps.end()) {
      const uint64_t header = 8 + sizeof_size;  // "GCOL", version, 3 reserved bytes, collection size
      read_at(base + address, header, heap);
      if (std::memcmp(heap.data(), "GCOL", 4) != 0 || heap[4] != 1) throw corrupt("a string heap has a bad signature");
      const uint64_t size = le(heap.data() + 8, sizeof_size);
      if (size < header) throw corrupt("a string heap has a bad size");
      read_at(base + address, size, heap);
      std::map<uint64_t, uint64_t> objects;
      const uint64_t object_header = 8 + sizeof_size;  // index, reference count, reserved, size
      // The walk libhdf5 makes when it loads the collection (H5HG's deserialiser), which trusts every size:
      // a free-space block (index 0) of size 0 loops forever, an oversized object runs past the end.
      for (uint64_t at = header; at + object_header <= size;) {
        const uint64_t id = le(heap.data() + at, 2), bytes = le(heap.data() + at + 8, sizeof_size);
        if (id == 0) {  // free space: its size counts its own header
          if (bytes < object_header || bytes > size - at) throw corrupt("a string heap has a bad free block");
          at += bytes;
          continue;
        }
        if (bytes > size - at - object_header || ((bytes + 7) & ~uint64_t(7)) > size - at - object_header)
          throw corrupt("a string heap object overruns its collection");
        objects[id] = bytes;
        at += object_header + ((bytes + 7) & ~uint64_t(7));
      }
      it = heaps.emplace(address, std::move(objects)).first;
    }
    const auto object = it->second.find(index);
    if (object == it->second.end() || object->second < length)
      throw corrupt("string " + std::to_string(i) + " refers to a missing or shorter heap object");
  }
}

hid_t open_object(hid_t file, const std::string& name, const std::string& ctx) {
  hid_t id = H5Oopen(file, name.c_str(), H5P_DEFAULT);
  if (id < 0) throw H5Error(ctx + ": no object '" + name + "'");
  return id;
}

hid_t untracked_times() {
  hid_t p = H5Pcreate(H5P_GROUP_CREATE);
  H5Pset_obj_track_times(p, 0);
  return p;
}

// How a numeric dataset is chunked along its first axis: as many rows as fit in `target_bytes` (at
// least one), and whether gzip is preceded by the byte shuffle (useless for 1-byte elements).
struct ChunkPolicy {
  hsize_t element_bytes;
  hsize_t target_bytes;
  bool shuffle;
};
// ~1 MiB chunks of float64/int64 rows: rows can be appended independently.
constexpr ChunkPolicy kWideChunks{8, 1u << 20, true};
// Images: 64 KiB or one row, whichever is more, so that reading one image (3DIEBench's 256x256x3 is
// 192 KiB) inflates only that image, while small rows are still grouped.
constexpr ChunkPolicy kByteChunks{1, 1u << 16, false};

void create_dataset(hid_t file, const std::string& name, const H5Shape& shape, hid_t type, int gzip,
                    const std::string& path, const ChunkPolicy& policy = kWideChunks) {
  if (gzip < 0 || gzip > 9)
    throw H5Error(path + ": gzip level " + std::to_string(gzip) + " of '" + name + "' is not in 0..9");
  std::vector<hsize_t> dims(shape.begin(), shape.end());
  Handle space(H5Screate_simple(int(dims.size()), dims.data(), nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl, 0);
  if (!dims.empty() && dims[0] > 0) {
    std::vector<hsize_t> chunk(dims);
    hsize_t row_bytes = policy.element_bytes;
    for (size_t i = 1; i < dims.size(); ++i) row_bytes *= std::max<hsize_t>(1, dims[i]);
    chunk[0] = std::max<hsize_t>(1, std::min<hsize_t>(dims[0], policy.target_bytes / row_bytes));
    for (size_t i = 1; i < dims.size(); ++i) chunk[i] = std::max<hsize_t>(1, dims[i]);
    ok(H5Pset_chunk(dcpl, int(chunk.size()), chunk.data()), "set chunk of '" + name + "'");
    if (gzip > 0) {
      if (policy.shuffle) H5Pset_shuffle(dcpl);
      H5Pset_deflate(dcpl, unsigned(gzip));
    }
  }
  Handle ds(H5Dcreate2(file, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (ds.id < 0) throw H5Error(path + ": cannot create dataset '" + name + "'");
}

void write_rows_typed(hid_t file, const std::string& name, uint64_t row0, uint64_t rows, hid_t memtype,
                      const void* data, const std::string& path) {
  Handle ds(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (ds.id < 0) throw H5Error(path + ": no dataset '" + name + "'");
  Handle fspace(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(fspace);
  std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
  H5Sget_simple_extent_dims(fspace, dims.data(), nullptr);
  if (nd == 0) {
    ok_write(H5Dwrite(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write '" + name + "'");
    return;
  }
  if (row0 + rows > dims[0]) throw H5Error(path + ": rows out of range for '" + name + "'");
  if (rows == 0) return;
  std::vector<hsize_t> start(dims.size(), 0), count(dims);
  start[0] = row0;
  count[0] = rows;
  ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select rows");
  Handle mspace(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose);
  ok_write(H5Dwrite(ds, memtype, mspace, fspace, H5P_DEFAULT, data), "write rows of '" + name + "'");
}

// Variable-length UTF-8 strings: h5py's string_dtype(), what it creates from a list of str.
hid_t utf8_vlen_string_type() {
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  return type;
}

// Throws unless `dataset` stores unsigned 8-bit integers (a silent conversion could clip values).
void require_u8(hid_t ds, const std::string& dataset, const std::string& path) {
  Handle type(H5Dget_type(ds), H5Tclose);
  if (H5Tget_class(type) != H5T_INTEGER || H5Tget_size(type) != 1 || H5Tget_sign(type) != H5T_SGN_NONE)
    throw H5Error(path + ": dataset '" + dataset + "' does not hold uint8 values");
}

// Reads rows [row0, row0 + rows) of the first axis of an open dataset of shape `s` into `out` (which
// holds rows x the product of the other extents) as `memory_type`: the one hyperslab read that
// read_rows and read_rows_u8 share. The caller has checked the range.
void read_row_block(hid_t ds, const H5Shape& s, uint64_t row0, uint64_t rows, hid_t memory_type, void* out,
                    const std::string& dataset, const std::string& path) {
  if (rows == 0) return;
  Handle fspace(H5Dget_space(ds), H5Sclose);
  std::vector<hsize_t> start(s.size(), 0), count(s.begin(), s.end());
  start[0] = row0;
  count[0] = rows;
  ok(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "select rows");
  Handle mspace(H5Screate_simple(int(count.size()), count.data(), nullptr), H5Sclose);
  if (H5Dread(ds, memory_type, mspace, fspace, H5P_DEFAULT, out) < 0)
    throw H5Error(path + ": reading '" + dataset + "' failed (file truncated or corrupt?)");
}

void write_attr_raw(hid_t file, const std::string& object, const std::string& name, hid_t type,
                    const void* value, const std::string& path) {
  Handle obj(open_object(file, object, path), H5Oclose);
  if (H5Aexists(obj, name.c_str()) > 0) H5Adelete(obj, name.c_str());
  Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  Handle a(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (a.id < 0) throw H5Error(path + ": cannot create attribute '" + name + "'");
  ok(H5Awrite(a, type, value), "write attribute '" + name + "'");
}
}  // namespace

H5Writer::H5Writer(std::string path) : path_(std::move(path)) {
  tmp_path_ = path_ + ".tmp." + std::to_string(getpid());
  Handle fcpl(H5Pcreate(H5P_FILE_CREATE), H5Pclose);
  H5Pset_obj_track_times(fcpl, 0);
  errno = 0;
  file_ = H5Fcreate(tmp_path_.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  if (file_ < 0)
    throw H5Error("cannot create '" + tmp_path_ + "'" + (errno ? std::string(": ") + std::strerror(errno) : "") +
                  " (does the directory exist and is it writable?)");
  // The root group is created with the file; its timestamps follow fcpl above.
}

H5Writer::~H5Writer() {
  if (file_ >= 0) H5Fclose(hid_t(file_));
  if (!committed_) std::remove(tmp_path_.c_str());
}

void H5Writer::create_group(const std::string& name) {
  Handle gcpl(untracked_times(), H5Pclose);
  Handle g(H5Gcreate2(hid_t(file_), name.c_str(), H5P_DEFAULT, gcpl, H5P_DEFAULT), H5Gclose);
  if (g.id < 0) throw H5Error(path_ + ": cannot create group '" + name + "'");
}

void H5Writer::create_f64(const std::string& name, const H5Shape& shape, int gzip_level) {
  create_dataset(hid_t(file_), name, shape, H5T_IEEE_F64LE, gzip_level, path_);
}
void H5Writer::create_f32(const std::string& name, const H5Shape& shape, int gzip_level) {
  create_dataset(hid_t(file_), name, shape, H5T_IEEE_F32LE, gzip_level, path_);
}
void H5Writer::write_rows(const std::string& name, uint64_t row0, uint64_t rows, const float* data) {
  write_rows_typed(hid_t(file_), name, row0, rows, H5T_NATIVE_FLOAT, data, path_);
}
void H5Writer::create_i64(const std::string& name, const H5Shape& shape) {
  create_dataset(hid_t(file_), name, shape, H5T_STD_I64LE, 0, path_);
}
void H5Writer::create_u8(const std::string& name, const H5Shape& shape, int gzip_level) {
  create_dataset(hid_t(file_), name, shape, H5T_STD_U8LE, gzip_level, path_, kByteChunks);
}
void H5Writer::write_rows(const std::string& name, uint64_t row0, uint64_t rows, const uint8_t* data) {
  write_rows_typed(hid_t(file_), name, row0, rows, H5T_NATIVE_UINT8, data, path_);
}
void H5Writer::write_u8(const std::string& name, const H5Shape& shape, const uint8_t* data, int gzip_level) {
  create_u8(name, shape, gzip_level);
  write_rows(name, 0, shape.empty() ? 1 : shape[0], data);
}

void H5Writer::write_strings(const std::string& name, const std::vector<std::string>& values) {
  Handle type(utf8_vlen_string_type(), H5Tclose);
  const hsize_t n = values.size();
  Handle space(H5Screate_simple(1, &n, nullptr), H5Sclose);
  Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_obj_track_times(dcpl, 0);
  Handle ds(H5Dcreate2(hid_t(file_), name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
  if (ds.id < 0) throw H5Error(path_ + ": cannot create dataset '" + name + "'");
  if (values.empty()) return;
  std::vector<const char*> pointers(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i].find('\0') != std::string::npos)
      throw H5Error(path_ + ": string " + std::to_string(i) + " of '" + name + "' contains a NUL character");
    pointers[i] = values[i].c_str();
  }
  ok_write(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()), "write strings '" + name + "'");
}

void H5Writer::write_rows(const std::string& name, uint64_t row0, uint64_t rows, const double* data) {
  write_rows_typed(hid_t(file_), name, row0, rows, H5T_NATIVE_DOUBLE, data, path_);
}
void H5Writer::write_rows(const std::string& name, uint64_t row0, uint64_t rows, const int64_t* data) {
  write_rows_typed(hid_t(file_), name, row0, rows, H5T_NATIVE_INT64, data, path_);
}
void H5Writer::write_f64(const std::string& name, const H5Shape& shape, const double* data) {
  create_f64(name, shape);
  write_rows(name, 0, shape.empty() ? 1 : shape[0], data);
}
void H5Writer::write_i64(const std::string& name, const H5Shape& shape, const int64_t* data) {
  create_i64(name, shape);
  write_rows(name, 0, shape.empty() ? 1 : shape[0], data);
}

void H5Writer::attr(const std::string& object, const std::string& name, const std::string& value) {
  // Variable-length UTF-8, which h5py returns as str (fixed-length strings come back as bytes).
  Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type, H5T_VARIABLE);
  H5Tset_cset(type, H5T_CSET_UTF8);
  const char* ptr = value.c_str();
  write_attr_raw(hid_t(file_), object, name, type, &ptr, path_);
}

void H5Writer::attr(const std::string& object, const std::string& name, double value) {
  write_attr_raw(hid_t(file_), object, name, H5T_NATIVE_DOUBLE, &value, path_);
}
void H5Writer::attr(const std::string& object, const std::string& name, int64_t value) {
  write_attr_raw(hid_t(file_), object, name, H5T_NATIVE_INT64, &value, path_);
}

void H5Writer::commit() {
  if (committed_) return;
  if (H5Fflush(hid_t(file_), H5F_SCOPE_GLOBAL) < 0)
    throw H5Error("writing '" + path_ + "' failed while flushing its temporary file (disk full, or a file-size "
                  "limit?); the previous file, if any, is unchanged");
  if (H5Fclose(hid_t(file_)) < 0) {
    file_ = -1;
    throw H5Error("closing '" + tmp_path_ + "' failed (disk full?)");
  }
  file_ = -1;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    throw H5Error("cannot write '" + path_ + "': " + std::strerror(errno));
  committed_ = true;
}

H5Reader::H5Reader(const std::string& path) : path_(path) {
  if (H5Fis_hdf5(path.c_str()) <= 0) throw H5Error("'" + path + "' does not exist or is not an HDF5 file");
  file_ = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file_ < 0) throw H5Error("cannot open '" + path + "'");
}

H5Reader::~H5Reader() {
  if (file_ >= 0) H5Fclose(hid_t(file_));
}

bool H5Reader::exists(const std::string& name) const {
  // Check each path component, as H5Lexists requires.
  std::string partial;
  size_t pos = 0;
  while (pos != std::string::npos) {
    size_t next = name.find('/', pos + 1);
    partial = name.substr(0, next);
    if (!partial.empty() && partial != "/" && H5Lexists(hid_t(file_), partial.c_str(), H5P_DEFAULT) <= 0)
      return false;
    pos = next;
  }
  return true;
}

std::vector<std::string> H5Reader::children(const std::string& group) const {
  Handle g(H5Gopen2(hid_t(file_), group.c_str(), H5P_DEFAULT), H5Gclose);
  if (g.id < 0) throw H5Error(path_ + ": no group '" + group + "'");
  H5G_info_t info;
  ok(H5Gget_info(g, &info), "group info");
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (n < 0) throw H5Error(path_ + ": cannot read the names in group '" + group + "' (file corrupt?)");
    std::string s(size_t(n), '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, s.data(), size_t(n) + 1, H5P_DEFAULT);
    names.push_back(s);
  }
  return names;
}

H5Shape H5Reader::shape(const std::string& dataset) const {
  if (!exists(dataset)) throw H5Error(path_ + ": no dataset '" + dataset + "'");
  Handle ds(open_dataset_to_read(hid_t(file_), dataset, path_), H5Dclose);
  if (ds.id < 0) throw H5Error(path_ + ": '" + dataset + "' is not a dataset");
  Handle space(H5Dget_space(ds), H5Sclose);
  int nd = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(size_t(std::max(nd, 0)));
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  return H5Shape(dims.begin(), dims.end());
}

std::vector<double> H5Reader::read_f64(const std::string& dataset) const {
  H5Shape s = shape(dataset);
  return read_rows(dataset, 0, s.empty() ? 1 : s[0]);
}

std::vector<double> H5Reader::read_rows(const std::string& dataset, uint64_t row0, uint64_t rows) const {
  H5Shape s = shape(dataset);
  Handle ds(open_dataset_to_read(hid_t(file_), dataset, path_), H5Dclose);
  uint64_t per_row = 1;
  for (size_t i = 1; i < s.size(); ++i) per_row *= s[i];
  std::vector<double> out(size_t(rows * per_row));
  if (s.empty()) {
    ok(H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read '" + dataset + "'");
    return out;
  }
  if (row0 + rows > s[0]) throw H5Error(path_ + ": rows out of range for '" + dataset + "'");
  read_row_block(ds, s, row0, rows, H5T_NATIVE_DOUBLE, out.data(), dataset, path_);
  return out;
}

std::vector<int64_t> H5Reader::read_i64(const std::string& dataset) const {
  H5Shape s = shape(dataset);
  uint64_t n = 1;
  for (auto d : s) n *= d;
  std::vector<int64_t> out(static_cast<size_t>(n));
  Handle ds(open_dataset_to_read(hid_t(file_), dataset, path_), H5Dclose);
  if (H5Dread(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw H5Error(path_ + ": reading '" + dataset + "' failed");
  return out;
}

std::vector<uint8_t> H5Reader::read_u8(const std::string& dataset) const {
  H5Shape s = shape(dataset);
  return read_rows_u8(dataset, 0, s.empty() ? 1 : s[0]);
}

std::vector<uint8_t> H5Reader::read_rows_u8(const std::string& dataset, uint64_t row0, uint64_t rows) const {
  H5Shape s = shape(dataset);
  Handle ds(open_dataset_to_read(hid_t(file_), dataset, path_), H5Dclose);
  require_u8(ds, dataset, path_);
  uint64_t per_row = 1;
  for (size_t i = 1; i < s.size(); ++i) per_row *= s[i];
  if (s.empty()) {
    std::vector<uint8_t> out(1);
    ok(H5Dread(ds, H5T_NATIVE_UINT8, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read '" + dataset + "'");
    return out;
  }
  if (row0 + rows > s[0] || row0 + rows < row0)
    throw H5Error(path_ + ": rows [" + std::to_string(row0) + ", " + std::to_string(row0 + rows) +
                  ") out of range for '" + dataset + "' (" + std::to_string(s[0]) + " rows)");
  std::vector<uint8_t> out(size_t(rows * per_row));
  read_row_block(ds, s, row0, rows, H5T_NATIVE_UINT8, out.data(), dataset, path_);
  return out;
}

std::vector<std::string> H5Reader::read_strings(const std::string& dataset) const {
  H5Shape s = shape(dataset);
  uint64_t n = 1;
  for (auto d : s) n *= d;
  Handle ds(open_dataset_to_read(hid_t(file_), dataset, path_), H5Dclose);
  Handle type(H5Dget_type(ds), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING) throw H5Error(path_ + ": dataset '" + dataset + "' does not hold strings");
  std::vector<std::string> out(static_cast<size_t>(n));
  if (n == 0) return out;
  if (H5Tis_variable_str(type) > 0) {
    check_vlen_string_heap(hid_t(file_), ds, n, dataset, path_);
    Handle memtype(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(memtype, H5T_VARIABLE);
    H5Tset_cset(memtype, H5Tget_cset(type));
    std::vector<char*> pointers(out.size(), nullptr);
    Handle space(H5Dget_space(ds), H5Sclose);
    // Frees the library's copies, also those of a read that failed half-way (found by fuzzing: a corrupt
    // string heap leaked the strings read before it).
    struct Reclaim {
      hid_t type, space;
      std::vector<char*>& p;
      ~Reclaim() {
#if H5_VERSION_GE(1, 12, 0)
        H5Treclaim(type, space, H5P_DEFAULT, p.data());
#else
        H5Dvlen_reclaim(type, space, H5P_DEFAULT, p.data());
#endif
      }
    } reclaim{memtype.id, space.id, pointers};
    if (H5Dread(ds, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, pointers.data()) < 0)
      throw H5Error(path_ + ": reading strings '" + dataset + "' failed");
    for (size_t i = 0; i < out.size(); ++i) out[i] = pointers[i] ? pointers[i] : "";
    return out;
  }
  // Fixed length: read as stored, then drop the padding (NULs, or spaces for Fortran-style strings).
  const size_t width = H5Tget_size(type);
  const H5T_str_t pad = H5Tget_strpad(type);
  std::vector<char> raw(out.size() * width);
  if (H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()) < 0)
    throw H5Error(path_ + ": reading strings '" + dataset + "' failed");
  for (size_t i = 0; i < out.size(); ++i) {
    const char* item = raw.data() + i * width;
    size_t end = pad == H5T_STR_SPACEPAD ? width : std::find(item, item + width, '\0') - item;
    if (pad == H5T_STR_SPACEPAD)
      while (end > 0 && item[end - 1] == ' ') --end;
    out[i].assign(item, end);
  }
  return out;
}

bool H5Reader::has_attr(const std::string& object, const std::string& name) const {
  if (!exists(object)) return false;
  Handle obj(open_object(hid_t(file_), object, path_), H5Oclose);
  return H5Aexists(obj, name.c_str()) > 0;
}

std::string H5Reader::attr_string(const std::string& object, const std::string& name) const {
  Handle obj(open_object(hid_t(file_), object, path_), H5Oclose);
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a.id < 0) throw H5Error(path_ + ": '" + object + "' has no attribute '" + name + "'");
  Handle type(H5Aget_type(a), H5Tclose);
  if (H5Tget_class(type) != H5T_STRING) throw H5Error(path_ + ": attribute '" + name + "' is not a string");
  if (H5Tis_variable_str(type) > 0) {
    char* s = nullptr;
    Handle mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(type));
    ok(H5Aread(a, mt, &s), "read attribute '" + name + "'");
    std::string out = s ? s : "";
    H5free_memory(s);
    return out;
  }
  size_t n = H5Tget_size(type);
  std::string out(n, '\0');
  ok(H5Aread(a, type, out.data()), "read attribute");
  out.erase(std::find(out.begin(), out.end(), '\0'), out.end());
  return out;
}

double H5Reader::attr_double(const std::string& object, const std::string& name) const {
  Handle obj(open_object(hid_t(file_), object, path_), H5Oclose);
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a.id < 0) throw H5Error(path_ + ": '" + object + "' has no attribute '" + name + "'");
  double v = 0;
  ok(H5Aread(a, H5T_NATIVE_DOUBLE, &v), "read attribute '" + name + "'");
  return v;
}

int64_t H5Reader::attr_int(const std::string& object, const std::string& name) const {
  Handle obj(open_object(hid_t(file_), object, path_), H5Oclose);
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (a.id < 0) throw H5Error(path_ + ": '" + object + "' has no attribute '" + name + "'");
  int64_t v = 0;
  ok(H5Aread(a, H5T_NATIVE_INT64, &v), "read attribute '" + name + "'");
  return v;
}

}  // namespace jess

// libFuzzer target: jess's HDF5 reader (core/hdf5_file) on mutated HDF5 files — the seed corpus holds
// small files as jess writes them (a PDE dataset and a rendered factor set). Walks
// every group, dataset and attribute the way jess's loaders read them: shapes, whole reads as float64,
// int64, uint8 and strings, one row, and the numeric attributes the loaders ask for.
#include <cstdint>
#include <exception>
#include <string>

#include "bytes_as_file.h"
#include "jess/core/hdf5_file.h"

namespace {
void read_dataset(const jess::H5Reader& r, const std::string& path) {
  const jess::H5Shape shape = r.shape(path);
  uint64_t n = 1;
  for (uint64_t d : shape) n = (d != 0 && n > (uint64_t(1) << 40) / d) ? (uint64_t(1) << 40) : n * d;
  // A declared size far beyond the input (unallocated chunks read as the fill value) is legal HDF5;
  // jess's loaders read such data row by row, as the single-row read below does.
  if (n <= (uint64_t(1) << 20)) {
    for (int kind = 0; kind < 4; ++kind) {
      try {
        if (kind == 0) (void)r.read_f64(path);
        if (kind == 1) (void)r.read_i64(path);
        if (kind == 2) (void)r.read_u8(path);
        if (kind == 3) (void)r.read_strings(path);
      } catch (const std::exception&) {
      }
    }
  }
  if (!shape.empty() && shape[0] > 0) {
    uint64_t row = 1;
    for (size_t i = 1; i < shape.size(); ++i) row = (shape[i] != 0 && row > (uint64_t(1) << 40) / shape[i]) ? (uint64_t(1) << 40) : row * shape[i];
    if (row <= (uint64_t(1) << 20)) {
      try { (void)r.read_rows(path, shape[0] - 1, 1); } catch (const std::exception&) {}
      try { (void)r.read_rows_u8(path, 0, 1); } catch (const std::exception&) {}
    }
  }
}

void walk(const jess::H5Reader& r, const std::string& group, int depth) {
  if (depth > 3) return;
  for (const char* a : {"first_index", "total", "equation", "jess_version", "seed", "solver", "nx", "nt", "tolerance"}) {
    try {
      if (!r.has_attr(group, a)) continue;
      try { (void)r.attr_int(group, a); } catch (const std::exception&) {}
      try { (void)r.attr_double(group, a); } catch (const std::exception&) {}
      // Not attr_string: a string attribute's heap reference lives in the object header, where jess cannot
      // check it before libhdf5 follows it, and libhdf5 1.10 crashes or loops on a corrupt one (h5py too;
      // docs/hardening.md). String datasets are checked (read_strings) and fuzzed below.
    } catch (const std::exception&) {
    }
  }
  for (const std::string& name : r.children(group)) {
    const std::string path = group == "/" ? "/" + name : group + "/" + name;
    try {
      read_dataset(r, path);
    } catch (const std::exception&) {  // not a dataset: a group
      try { walk(r, path, depth + 1); } catch (const std::exception&) {}
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    jess::H5Reader r(bytes_as_named_file(data, size));
    r.exists("/train");
    walk(r, "/", 0);
  } catch (const std::exception&) {
  }
  return 0;
}

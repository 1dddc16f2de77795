#pragma once
// A small RAII layer over the HDF5 C API: what jess needs to write datasets in the reference
// generators' layout (readable by h5py) and read them back. Writing goes to a temporary file that is
// renamed over the target only on commit(), so an interrupted run never leaves a valid-looking but
// truncated file. Object timestamps are off, so the same content gives the same bytes.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jess {

class H5Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using H5Shape = std::vector<uint64_t>;

class H5Writer {
 public:
  explicit H5Writer(std::string path);  // opens `<path>.tmp.<pid>` for writing
  ~H5Writer();                          // removes the temporary file unless committed
  H5Writer(const H5Writer&) = delete;
  H5Writer& operator=(const H5Writer&) = delete;

  void create_group(const std::string& name);
  // Creates a float64/int64 dataset of `shape`, chunked along the first axis; fill it with write_rows.
  void create_f64(const std::string& name, const H5Shape& shape, int gzip_level = 0);
  void create_i64(const std::string& name, const H5Shape& shape);
  // float32 (large fields: 2-D trajectories), chunked along the first axis like create_f64; the reader's
  // read_rows / read_f64 convert to double.
  void create_f32(const std::string& name, const H5Shape& shape, int gzip_level = 0);
  void write_rows(const std::string& name, uint64_t row0, uint64_t rows, const float* data);
  // Writes rows [row0, row0 + rows) of the first axis; `data` holds them in C order.
  void write_rows(const std::string& name, uint64_t row0, uint64_t rows, const double* data);
  void write_rows(const std::string& name, uint64_t row0, uint64_t rows, const int64_t* data);
  // Whole-dataset convenience.
  void write_f64(const std::string& name, const H5Shape& shape, const double* data);
  void write_i64(const std::string& name, const H5Shape& shape, const int64_t* data);

  // uint8 datasets (images: N x H x W x C), chunked along the first axis with one row per chunk once a
  // row is 64 KiB or more (smaller rows are grouped into ~64 KiB chunks), so one image can be read
  // without inflating its neighbours; gzip_level 0..9.
  void create_u8(const std::string& name, const H5Shape& shape, int gzip_level = 0);
  void write_rows(const std::string& name, uint64_t row0, uint64_t rows, const uint8_t* data);
  void write_u8(const std::string& name, const H5Shape& shape, const uint8_t* data, int gzip_level = 0);
  // A 1-D dataset of variable-length UTF-8 strings (h5py.string_dtype(); h5py reads them with
  // ds.asstr()[()] as str, or as bytes without asstr). Strings may not contain NUL characters.
  void write_strings(const std::string& name, const std::vector<std::string>& values);

  // Attributes on a group or dataset ("/" is the root).
  void attr(const std::string& object, const std::string& name, const std::string& value);
  void attr(const std::string& object, const std::string& name, double value);
  void attr(const std::string& object, const std::string& name, int64_t value);

  void commit();  // flush, close and rename over the target path
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_path_;
  int64_t file_ = -1;
  bool committed_ = false;
};

class H5Reader {
 public:
  explicit H5Reader(const std::string& path);
  ~H5Reader();
  H5Reader(const H5Reader&) = delete;
  H5Reader& operator=(const H5Reader&) = delete;

  bool exists(const std::string& name) const;
  std::vector<std::string> children(const std::string& group) const;  // names in a group
  H5Shape shape(const std::string& dataset) const;
  std::vector<double> read_f64(const std::string& dataset) const;  // converts integers too
  std::vector<double> read_rows(const std::string& dataset, uint64_t row0, uint64_t rows) const;
  std::vector<int64_t> read_i64(const std::string& dataset) const;
  // uint8 datasets only (anything else raises H5Error rather than being clipped); C order.
  std::vector<uint8_t> read_u8(const std::string& dataset) const;
  std::vector<uint8_t> read_rows_u8(const std::string& dataset, uint64_t row0, uint64_t rows) const;
  // String datasets, variable- or fixed-length (padding removed), any shape flattened in C order.
  std::vector<std::string> read_strings(const std::string& dataset) const;
  bool has_attr(const std::string& object, const std::string& name) const;
  std::string attr_string(const std::string& object, const std::string& name) const;
  double attr_double(const std::string& object, const std::string& name) const;
  int64_t attr_int(const std::string& object, const std::string& name) const;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int64_t file_ = -1;
};

}  // namespace jess

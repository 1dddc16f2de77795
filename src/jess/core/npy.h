#pragma once
// NumPy .npy files (format versions 1.0, 2.0 and 3.0; little- or big-endian float32/float64/int32/
// int64 and uint8; C or Fortran order). Numbers are read into float64 in C order; arrays of strings
// have their own reader. Malformed or truncated files raise NpyError naming the problem.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jess {

class NpyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct NpyArray {
  std::vector<int64_t> shape;
  std::vector<double> data;  // C order
  std::string source_dtype;  // as written in the header, e.g. "<f4"
  int64_t numel() const;
};

// Numeric arrays only: a string array raises NpyError pointing to read_npy_strings.
NpyArray read_npy(const std::string& path);

// Arrays of strings, any shape, flattened in C order: NumPy unicode ("<U{n}", ">U{n}": UTF-32, as
// np.save(np.array(list_of_str)) writes) and byte strings ("|S{n}"), returned as UTF-8 with NumPy's
// trailing NULs removed (as NumPy reads them). Object arrays (pickled) are refused.
std::vector<std::string> read_npy_strings(const std::string& path);

// Streams a 2-D C-ordered .npy file row block by row block, so arrays larger than memory can be
// reduced (Fortran-ordered files are read whole and handed out the same way).
class NpyRowReader {
 public:
  explicit NpyRowReader(const std::string& path);
  ~NpyRowReader();
  NpyRowReader(const NpyRowReader&) = delete;
  NpyRowReader& operator=(const NpyRowReader&) = delete;
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  const std::string& dtype() const { return dtype_; }
  // Reads up to `max_rows` next rows into `out` (float64, C order); returns the number read (0 at end).
  int64_t next(int64_t max_rows, std::vector<double>& out);

 private:
  struct Impl;
  Impl* impl_ = nullptr;
  int64_t rows_ = 0, cols_ = 0, done_ = 0;
  std::string dtype_;
};
// Writes float64 ("<f8") or float32 ("<f4") in C order, atomically (temp file + rename).
void write_npy(const std::string& path, const double* data, const std::vector<int64_t>& shape);
void write_npy_f32(const std::string& path, const float* data, const std::vector<int64_t>& shape);
void write_npy_i64(const std::string& path, const int64_t* data, const std::vector<int64_t>& shape);
void write_npy_u8(const std::string& path, const uint8_t* data, const std::vector<int64_t>& shape);
// A 1-D NumPy unicode array, as np.save(path, np.array(strings)) writes it: dtype "<U{n}" with n the
// longest string's length in code points (at least 1), each string UTF-32LE padded with NULs. The
// strings must be valid UTF-8 and not end with a NUL character (NumPy would drop it).
void write_npy_strings(const std::string& path, const std::vector<std::string>& strings);

}  // namespace jess

// libFuzzer target: every NPY entry point on arbitrary bytes (v1-v3 headers, any dtype/shape text).
// Bad input must end in an exception, never a crash, an out-of-bounds read or a hang.
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "bytes_as_file.h"
#include "jess/core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = bytes_as_file(data, size);
  try {
    auto a = jess::read_npy(path);
    (void)a;
  } catch (const std::exception&) {
  }
  try {
    auto s = jess::read_npy_strings(path);
    (void)s;
  } catch (const std::exception&) {
  }
  try {
    jess::NpyRowReader r(path);
    std::vector<double> rows;
    for (int k = 0; k < 4 && r.next(3, rows) > 0; ++k) {
    }
  } catch (const std::exception&) {
  }
  return 0;
}

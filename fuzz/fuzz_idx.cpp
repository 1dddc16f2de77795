// libFuzzer target: IDX files (MNIST's layout), plain and gzip-compressed, on arbitrary bytes.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "bytes_as_file.h"
#include "jess/vision/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto a = jess::vision::read_idx(bytes_as_file(data, size));
    (void)a;
  } catch (const std::exception&) {
  }
  return 0;
}

// libFuzzer target: IDX files (MNIST's layout), plain and gzip-compressed, on arbitrary bytes.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string>

#include "jess/vision/idx.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static int fd = memfd_create("jess_fuzz_idx", 0);
  if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != ssize_t(size)) std::abort();
  try {
    auto a = jess::vision::read_idx("/proc/self/fd/" + std::to_string(fd));
    (void)a;
  } catch (const std::exception&) {
  }
  return 0;
}

#pragma once
// The fuzzer's bytes as a file that readers open by path, without touching the disk: one memfd per
// target, rewritten for every input.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <string>

inline std::string bytes_as_file(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("jess_fuzz_input", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != ssize_t(size)) std::abort();
  return "/proc/self/fd/" + std::to_string(fd);
}

// The same as a real path, for libraries that resolve the name (HDF5 calls realpath, which fails on a
// memfd): a file in /dev/shm (memory-backed), one per process, rewritten for every input.
#include <fcntl.h>
inline std::string bytes_as_named_file(const uint8_t* data, size_t size) {
  static const std::string path = "/dev/shm/jess_fuzz_input." + std::to_string(getpid());
  static const int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != ssize_t(size)) std::abort();
  return path;
}

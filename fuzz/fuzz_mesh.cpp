// libFuzzer target: user meshes (render/mesh_io: assimp's importers, then jess's checks and conversion to
// its triangle mesh). The first byte picks the file extension assimp is given (OBJ, PLY, STL, OFF: the
// formats the catalogue docs name first); the rest is the file.
#include <cstdint>
#include <exception>
#include <string>

#include "bytes_as_file.h"
#include "jess/render/mesh_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const char* extensions[] = {".obj", ".ply", ".stl", ".off"};
  static const std::string base = bytes_as_named_file(nullptr, 0);
  const std::string path = base + extensions[data[0] % 4];
  try {
    {
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
      if (fd < 0 || pwrite(fd, data + 1, size - 1, 0) != ssize_t(size - 1)) std::abort();
      ::close(fd);
    }
    auto mesh = jess::render::load_mesh(path);
    (void)mesh;
  } catch (const std::exception&) {
  }
  return 0;
}

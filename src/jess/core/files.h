#pragma once
// Small filesystem helpers shared by the library and the CLI.
#include <string>

namespace jess {

bool file_exists(const std::string& path);
// Creates `dir` and its missing parents (like mkdir -p); throws std::runtime_error naming the part
// that could not be created.
void make_directories(const std::string& dir);

}  // namespace jess

#pragma once
// Small filesystem helpers shared by the library and the CLI.
#include <cstddef>
#include <string>

namespace jess {

bool file_exists(const std::string& path);
bool is_directory(const std::string& path);
// Creates `dir` and its missing parents (like mkdir -p); throws std::runtime_error naming the part
// that could not be created.
void make_directories(const std::string& dir);

// Writes a file atomically: a temporary file in the same directory, fsync, rename. A reader never sees
// a half-written file and an interrupted write never destroys the previous version.
void write_file_atomic(const std::string& path, const char* data, size_t size);
void write_text_atomic(const std::string& path, const std::string& text);

// Removes the temporaries of write_file_atomic (`NAME.tmp.PID`) in `dir` whose writing process no
// longer exists (killed mid-write); returns how many went. Temporaries of live processes stay.
int remove_stale_temporaries(const std::string& dir);

// An exclusive claim on a run directory for as long as the object lives: `dir/.jess.lock`, locked with
// flock(2), so the kernel releases it when the holder exits or is killed (a stale file never blocks).
// A second writer (another process, or another claim in this one) gets std::runtime_error naming the
// holder's pid. Taking the claim removes the temporaries a killed writer left (remove_stale_temporaries).
class DirectoryLock {
 public:
  explicit DirectoryLock(const std::string& dir);
  ~DirectoryLock();
  DirectoryLock(const DirectoryLock&) = delete;
  DirectoryLock& operator=(const DirectoryLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace jess

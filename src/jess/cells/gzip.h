#pragma once
// Whole-file reading with transparent gzip decompression, for the single-cell readers (R data files,
// MatrixMarket, CSV/TSV and 10x name lists are all commonly gzipped). Light header: no torch.
#include <string>
#include <string_view>

namespace jess::cells {

// Whether `bytes` start with the gzip magic 1f 8b.
bool is_gzip(std::string_view bytes);
// Inflates a gzip stream (several concatenated members allowed, as `cat a.gz b.gz` makes). Throws
// std::runtime_error naming `source` when the stream is corrupt or truncated.
std::string gunzip(std::string_view compressed, const std::string& source);
// The file's bytes as they are on disk. Throws std::runtime_error naming the file when it cannot be read.
std::string read_file_bytes(const std::string& path);
// The file's bytes, inflated if it is gzip-compressed. Throws std::runtime_error naming the file when
// it cannot be read.
std::string read_file_decompressed(const std::string& path);

}  // namespace jess::cells

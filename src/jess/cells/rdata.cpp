#include "jess/cells/rdata.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <zlib.h>

#include "jess/cells/gzip.h"

namespace jess::cells {

namespace {

// Serialised type codes (R's serialize.c). The pseudo-types from 238 up stand for shared singletons
// and back-references and carry no payload of their own (except REFSXP's index).
constexpr int kSymSxp = 1, kListSxp = 2, kLangSxp = 6, kCharSxp = 9, kLglSxp = 10, kIntSxp = 13,
              kRealSxp = 14, kStrSxp = 16, kVecSxp = 19;
constexpr int kAltrepSxp = 238, kBaseEnvSxp = 241, kEmptyEnvSxp = 242, kBaseNamespaceSxp = 250,
              kMissingArgSxp = 251, kUnboundValueSxp = 252, kGlobalEnvSxp = 253, kNilValueSxp = 254,
              kRefSxp = 255;

std::string format_number(double v) {
  if (std::isnan(v)) {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    return (u & 0xFFFFFFFFu) == 1954 ? "NA" : "NaN";  // R's NA_real_ is the NaN with payload 1954
  }
  if (std::isinf(v)) return v > 0 ? "Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);  // R prints doubles with 15 significant digits
  return buf;
}

// Deep enough for any data R packages ship; bounds the C++ stack on a malformed or hostile file.
constexpr int kMaxDepth = 400;
// Elements reserved up front for character vectors and lists; more grow as they are read (a corrupt
// length then costs only what the data really holds).
constexpr size_t kReserveItems = size_t(1) << 16;

struct Flags {
  int type;
  bool has_attributes, has_tag;
  uint32_t raw;
  explicit Flags(uint32_t f)
      : type(int(f & 0xFF)), has_attributes(f & (1u << 9)), has_tag(f & (1u << 10)), raw(f) {}
};

// The serialised stream, read front to back. A gzip file is inflated as the parser asks for bytes -
// through a 4 MiB buffer, and straight into the destination for large vectors - so the 100 MB HSMM
// matrix is never held twice and no per-element call is made.
class ByteSource {
 public:
  ByteSource(std::string_view bytes, const std::string& source) : source_(source) {
    if (is_gzip(bytes)) {
      compressed_ = bytes;
      if (inflateInit2(&z_, 15 + 16) != Z_OK) throw std::runtime_error("'" + source + "': cannot initialise zlib");
      inflating_ = true;
      buffer_.resize(size_t(4) << 20);
      p_ = end_ = buffer_.data();
      z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed_.data()));
      z_.avail_in = 0;
    } else {
      start_ = p_ = reinterpret_cast<const uint8_t*>(bytes.data());
      end_ = p_ + bytes.size();
    }
  }
  ~ByteSource() {
    if (inflating_) inflateEnd(&z_);
  }
  ByteSource(const ByteSource&) = delete;
  ByteSource& operator=(const ByteSource&) = delete;

  // Copies the next n bytes to dst; false when the stream ends first.
  bool read(void* dst, size_t n) {
    auto* out = static_cast<uint8_t*>(dst);
    const size_t buffered = size_t(end_ - p_);
    if (n <= buffered) {
      std::memcpy(out, p_, n);
      p_ += n;
      return true;
    }
    std::memcpy(out, p_, buffered);
    p_ = end_;
    out += buffered;
    n -= buffered;
    if (!inflating_) return false;
    if (n >= buffer_.size() / 2) {  // a large vector: inflate in place
      const size_t got = inflate_into(out, n);
      consumed_before_buffer_ += buffer_fill_ + got;
      buffer_fill_ = 0;
      p_ = end_ = buffer_.data();
      return got == n;
    }
    while (n > 0) {
      if (!refill()) return false;
      const size_t k = std::min(n, size_t(end_ - p_));
      std::memcpy(out, p_, k);
      p_ += k;
      out += k;
      n -= k;
    }
    return true;
  }

  bool skip(size_t n) {
    uint8_t scratch[256];
    while (n > 0) {
      const size_t k = std::min(n, sizeof scratch);
      if (!read(scratch, k)) return false;
      n -= k;
    }
    return true;
  }

  // After the last object: a gzip stream must also end properly (its CRC and length trailer checked
  // by zlib), so a file cut inside the trailer is still reported as truncated.
  void check_complete() {
    if (!inflating_) return;
    while (!finished_) {
      consumed_before_buffer_ += buffer_fill_;
      buffer_fill_ = inflate_into(buffer_.data(), buffer_.size());
      p_ = end_ = buffer_.data();
    }
    if (!complete_)
      throw std::runtime_error("'" + source_ + "' is truncated: the gzip stream ends before its end marker");
  }

  // Bytes left when known (uncompressed input), for checking a vector length before allocating.
  std::optional<size_t> known_remaining() const {
    if (inflating_) return std::nullopt;
    return size_t(end_ - p_);
  }
  // Position in the (decompressed) stream, for messages.
  uint64_t offset() const {
    return inflating_ ? consumed_before_buffer_ + uint64_t(p_ - buffer_.data()) : uint64_t(p_ - start_);
  }

 private:
  const std::string& source_;
  std::string_view compressed_;
  size_t compressed_used_ = 0;
  z_stream z_{};
  bool inflating_ = false;
  bool finished_ = false;  // no more output will come
  bool complete_ = false;  // ... because the gzip stream ended properly
  std::vector<uint8_t> buffer_;
  size_t buffer_fill_ = 0;
  uint64_t consumed_before_buffer_ = 0;
  const uint8_t* p_ = nullptr;
  const uint8_t* end_ = nullptr;
  const uint8_t* start_ = nullptr;  // uncompressed input: its first byte

  bool refill() {
    consumed_before_buffer_ += buffer_fill_;
    buffer_fill_ = inflate_into(buffer_.data(), buffer_.size());
    p_ = buffer_.data();
    end_ = p_ + buffer_fill_;
    return buffer_fill_ > 0;
  }

  // Inflates up to n bytes into out; returns how many it produced (fewer only at the stream's end).
  size_t inflate_into(uint8_t* out, size_t n) {
    size_t produced = 0;
    while (produced < n && !finished_) {
      if (z_.avail_in == 0) {
        const size_t k = std::min<size_t>(compressed_.size() - compressed_used_, 1u << 30);
        z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed_.data() + compressed_used_));
        z_.avail_in = uInt(k);
        compressed_used_ += k;
      }
      const uInt chunk = uInt(std::min<size_t>(n - produced, 1u << 30));
      z_.next_out = out + produced;
      z_.avail_out = chunk;
      const int rc = inflate(&z_, Z_NO_FLUSH);
      produced += chunk - z_.avail_out;
      if (rc == Z_STREAM_END) {
        // Another gzip member may follow (concatenated files).
        const bool more = z_.avail_in >= 2 && z_.next_in[0] == 0x1f && z_.next_in[1] == 0x8b;
        if (more) {
          inflateReset(&z_);
        } else {
          finished_ = complete_ = true;
        }
      } else if (rc == Z_BUF_ERROR && z_.avail_in == 0 && compressed_used_ == compressed_.size()) {
        finished_ = true;  // the compressed data ends early: the parser reports what it was expecting
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        throw std::runtime_error("'" + source_ + "' is not a valid gzip stream (zlib: " +
                                 (z_.msg ? std::string(z_.msg) : "error " + std::to_string(rc)) + ")");
      }
    }
    return produced;
  }
};

class Parser {
 public:
  Parser(ByteSource& in, const std::string& source) : in_(in), source_(source) {}

  // The serialisation header after the format line: version, writer / reader versions and (v3) the
  // native encoding.
  void read_version_header() {
    const int32_t version = read_int("the serialisation version");
    if (version != 2 && version != 3)
      fail("unsupported serialisation version " + std::to_string(version) + " (this reader handles 2 and 3)");
    read_int("the writer's R version");
    read_int("the minimal reader R version");
    if (version == 3) {
      const int32_t n = read_int("the length of the native-encoding name");
      if (n < 0 || n > 1024) fail("implausible native-encoding name length " + std::to_string(n));
      if (!in_.skip(size_t(n))) truncated("the native-encoding name", size_t(n));
    }
  }

  RObject read_item(int depth = 0) { return read_item(Flags(uint32_t(read_int("an item's flags"))), depth); }

  [[noreturn]] void fail(const std::string& what) const {
    std::string where;
    for (const auto& part : path_) where += part;
    throw std::runtime_error("'" + source_ + "': " + what + " at byte " + std::to_string(in_.offset()) +
                             " of the serialised stream" + (where.empty() ? "" : " (in " + where + ")"));
  }

 private:
  ByteSource& in_;
  const std::string& source_;
  std::vector<std::string> symbols_;  // the reference table: REFSXP indices point here (1-based)
  std::vector<std::string> path_;     // where we are, for messages: "HSMM_sample_sheet", "[[3]]", "@levels"

  struct PathPart {
    std::vector<std::string>& path;
    PathPart(std::vector<std::string>& p, std::string part) : path(p) { path.push_back(std::move(part)); }
    ~PathPart() { path.pop_back(); }
  };

  [[noreturn]] void truncated(const char* what, size_t bytes) const {
    fail(std::string("truncated: the data ends inside ") + what + " (" + std::to_string(bytes) + " bytes expected)");
  }

  int32_t read_int(const char* what) {
    uint32_t u;
    if (!in_.read(&u, 4)) truncated(what, 4);
    return int32_t(__builtin_bswap32(u));
  }

  // A vector's length: an int32, or -1 followed by two int32 (upper, lower) for long vectors. When
  // the bytes left are known, checked against them (each element takes at least `min_element_bytes`)
  // so a corrupt length fails before anything is allocated.
  size_t read_length(size_t min_element_bytes) {
    int64_t n = read_int("a vector length");
    if (n == -1) {
      const int64_t upper = read_int("a long vector's length (upper word)");
      const int64_t lower = uint32_t(read_int("a long vector's length (lower word)"));
      // A negative upper word would be undefined to shift (found by fuzz/fuzz_cells); R's long vectors
      // stop at 2^52 elements, an upper word of at most 2^20.
      if (upper < 0 || upper > (int64_t(1) << 20)) fail("implausible long vector length (upper word " + std::to_string(upper) + ")");
      n = int64_t((uint64_t(upper) << 32) + uint64_t(lower));
    }
    if (n < 0) fail("negative vector length " + std::to_string(n));
    const auto left = in_.known_remaining();
    if (left && uint64_t(n) > *left / min_element_bytes)
      fail("truncated: a vector of " + std::to_string(n) + " elements needs at least " +
           std::to_string(uint64_t(n) * min_element_bytes) + " bytes but only " + std::to_string(*left) + " remain");
    if (uint64_t(n) > (uint64_t(1) << 52)) fail("implausible vector length " + std::to_string(n));
    return size_t(n);
  }

  // Reads n big-endian values. The vector grows as the data arrives (from at most 128 MiB reserved
  // up front), so a corrupt length in a compressed stream costs no more memory than the data it has.
  template <class T>
  void read_array(std::vector<T>& out, size_t n, const char* what) {
    constexpr size_t kReserveElements = (size_t(128) << 20) / sizeof(T);
    constexpr size_t kChunkElements = (size_t(16) << 20) / sizeof(T);
    out.clear();
    out.reserve(std::min(n, kReserveElements));
    while (out.size() < n) {
      const size_t done = out.size();
      const size_t k = std::min(n - done, kChunkElements);
      out.resize(done + k);
      if (!in_.read(out.data() + done, k * sizeof(T))) truncated(what, n * sizeof(T));
    }
    for (auto& v : out) {
      if constexpr (sizeof(T) == 4) {
        uint32_t u;
        std::memcpy(&u, &v, 4);
        u = __builtin_bswap32(u);
        std::memcpy(&v, &u, 4);
      } else {
        uint64_t u;
        std::memcpy(&u, &v, 8);
        u = __builtin_bswap64(u);
        std::memcpy(&v, &u, 8);
      }
    }
  }

  // A CHARSXP's payload (after its flags): int32 length (-1 = NA_character_) and the bytes.
  void read_char_payload(std::string& text, uint8_t& is_na) {
    const int32_t n = read_int("a string length");
    if (n == -1) {
      text.clear();
      is_na = 1;
      return;
    }
    if (n < 0) fail("negative string length " + std::to_string(n));
    const auto left = in_.known_remaining();
    if (left && size_t(n) > *left) truncated("a string", size_t(n));
    // Read in 1 MiB steps so a corrupt length in a compressed stream fails when the data runs out
    // rather than after allocating (and zeroing) up to 2 GiB.
    text.clear();
    while (text.size() < size_t(n)) {
      const size_t done = text.size();
      const size_t k = std::min(size_t(n) - done, size_t(1) << 20);
      text.resize(done + k);
      if (!in_.read(text.data() + done, k)) truncated("a string", size_t(n));
    }
    is_na = 0;
  }

  std::string read_symbol_name() {
    const Flags f(uint32_t(read_int("a symbol's name")));
    if (f.type != kCharSxp) fail("a symbol's name should be a CHARSXP (9) but is " + r_type_name(f.type));
    std::string name;
    uint8_t na = 0;
    read_char_payload(name, na);
    return name;
  }

  // A tag: a symbol, usually a back-reference to one already seen.
  std::string read_tag(int depth) {
    const RObject tag = read_item(depth + 1);
    if (tag.type != RType::Symbol) fail("a pairlist tag should be a symbol but is " + tag.describe());
    return tag.strings[0];
  }

  void read_attributes(RObject& into, int depth) {
    PathPart part(path_, "@attributes");
    RObject list = read_item(depth + 1);
    if (list.type != RType::Pairlist) fail("attributes should be a pairlist but are " + list.describe());
    for (size_t i = 0; i < list.items.size(); ++i) {
      if (list.tags[i].empty()) fail("an attribute has no name");
      into.attributes.push_back({std::move(list.tags[i]), std::move(list.items[i])});
    }
  }

  RObject read_item(const Flags& f, int depth) {
    if (depth > kMaxDepth) fail("objects nested deeper than " + std::to_string(kMaxDepth) + " levels");
    RObject out;
    switch (f.type) {
      case kNilValueSxp: case kEmptyEnvSxp: case kBaseEnvSxp: case kGlobalEnvSxp: case kUnboundValueSxp:
      case kMissingArgSxp: case kBaseNamespaceSxp:
        out.special = f.type;
        return out;
      case kRefSxp: {
        int64_t index = f.raw >> 8;
        if (index == 0) index = read_int("a reference index");
        if (index < 1 || size_t(index) > symbols_.size())
          fail("reference #" + std::to_string(index) + " points outside the " + std::to_string(symbols_.size()) +
               " objects read so far");
        out.type = RType::Symbol;
        out.strings.push_back(symbols_[size_t(index - 1)]);
        return out;
      }
      case kSymSxp:
        out.type = RType::Symbol;
        out.strings.push_back(read_symbol_name());
        symbols_.push_back(out.strings[0]);
        return out;
      case kListSxp: case kLangSxp:
        return read_pairlist(f, depth);
      case kCharSxp:
        out.type = RType::Char;
        out.strings.emplace_back();
        out.string_na.push_back(0);
        read_char_payload(out.strings[0], out.string_na[0]);
        return out;
      case kLglSxp: case kIntSxp:
        out.type = f.type == kLglSxp ? RType::Logical : RType::Integer;
        read_array(out.ints, read_length(4), "integer vector data");
        break;
      case kRealSxp:
        out.type = RType::Real;
        read_array(out.reals, read_length(8), "double vector data");
        break;
      case kStrSxp: {
        out.type = RType::String;
        const size_t n = read_length(8);  // each element: flags + length at least
        out.strings.reserve(std::min(n, kReserveItems));
        out.string_na.reserve(std::min(n, kReserveItems));
        for (size_t i = 0; i < n; ++i) {
          const Flags ef(uint32_t(read_int("a string element's flags")));
          if (ef.type != kCharSxp)
            fail("element " + std::to_string(i + 1) + " of a character vector is " + r_type_name(ef.type) +
                 ", not a CHARSXP");
          out.strings.emplace_back();
          out.string_na.push_back(0);
          read_char_payload(out.strings.back(), out.string_na.back());
        }
        break;
      }
      case kVecSxp: {
        out.type = RType::List;
        const size_t n = read_length(4);
        out.items.reserve(std::min(n, kReserveItems));
        for (size_t i = 0; i < n; ++i) {
          PathPart part(path_, "[[" + std::to_string(i + 1) + "]]");
          out.items.push_back(read_item(depth + 1));
        }
        break;
      }
      case kAltrepSxp:
        return read_altrep(depth);
      default:
        fail("unsupported R object type " + r_type_name(f.type) +
             " (this reader covers vectors, lists, pairlists, symbols and attributes)");
    }
    if (f.has_attributes) read_attributes(out, depth);
    return out;
  }

  // LISTSXP / LANGSXP: for each cell, attributes (if flagged), tag (if flagged), CAR, then the CDR -
  // which is the next cell, read in this loop rather than by recursion so long pairlists (one cell
  // per object in a .RData) cost no stack.
  RObject read_pairlist(Flags f, int depth) {
    RObject out;
    out.type = f.type == kLangSxp ? RType::Language : RType::Pairlist;
    for (;;) {
      if (f.has_attributes) read_attributes(out, depth);
      std::string tag = f.has_tag ? read_tag(depth) : std::string();
      {
        // Top-level tags are the saved objects' names; deeper ones read like R's x$name.
        std::string part_name = tag.empty()      ? "[[" + std::to_string(out.items.size() + 1) + "]]"
                                : path_.empty() ? tag
                                                : "$" + tag;
        PathPart part(path_, std::move(part_name));
        out.items.push_back(read_item(depth + 1));
      }
      out.tags.push_back(std::move(tag));
      const Flags next(uint32_t(read_int("the rest of a pairlist")));
      if (next.type == kNilValueSxp) return out;
      if (next.type != kListSxp && next.type != kLangSxp)
        fail("a pairlist continues with " + r_type_name(next.type) + " instead of another cell or NULL");
      f = next;
    }
  }

  // ALTREP objects (R >= 3.5 writes some vectors compactly): info = pairlist(class symbol, package
  // symbol, type), then the class's state and the attributes. The classes base R writes are expanded
  // here into ordinary vectors.
  RObject read_altrep(int depth) {
    const RObject info = read_item(depth + 1);
    if (info.type != RType::Pairlist || info.items.empty() || info.items[0].type != RType::Symbol)
      fail("an ALTREP object's class information is malformed");
    const std::string cls = info.items[0].strings[0];
    RObject state = read_item(depth + 1);
    RObject attributes = read_item(depth + 1);
    RObject out;
    if (cls == "compact_intseq" || cls == "compact_realseq") {
      // state: c(length, first, step) as doubles
      if (state.type != RType::Real || state.reals.size() != 3) fail("malformed " + cls + " state");
      const double n = state.reals[0], first = state.reals[1], step = state.reals[2];
      if (!(n >= 0) || n > 2147483647.0) fail("implausible " + cls + " length " + format_number(n));
      if (cls == "compact_intseq") {
        out.type = RType::Integer;
        out.ints.resize(size_t(n));
        for (size_t i = 0; i < out.ints.size(); ++i) out.ints[i] = int32_t(first + double(i) * step);
      } else {
        out.type = RType::Real;
        out.reals.resize(size_t(n));
        for (size_t i = 0; i < out.reals.size(); ++i) out.reals[i] = first + double(i) * step;
      }
    } else if (cls.rfind("wrap_", 0) == 0) {
      // state: pairlist(wrapped vector, metadata)
      if (state.type != RType::Pairlist || state.items.empty()) fail("malformed " + cls + " state");
      out = std::move(state.items[0]);
      out.attributes.clear();
    } else if (cls == "deferred_string") {
      // state: pairlist(the numbers to be formatted, scipen); R formats them with 15 significant digits
      if (state.type != RType::Pairlist || state.items.empty()) fail("malformed deferred_string state");
      const RObject& numbers = state.items[0];
      out.type = RType::String;
      char buf[64];
      if (numbers.type == RType::Integer) {
        for (int32_t v : numbers.ints) {
          out.strings.push_back(v == RObject::kNaInteger ? "" : std::to_string(v));
          out.string_na.push_back(v == RObject::kNaInteger);
        }
      } else if (numbers.type == RType::Real) {
        for (double v : numbers.reals) {
          std::snprintf(buf, sizeof buf, "%.15g", v);
          out.strings.push_back(std::isnan(v) ? "" : buf);
          out.string_na.push_back(std::isnan(v));
        }
      } else {
        fail("malformed deferred_string state");
      }
    } else {
      fail("unsupported ALTREP class '" + cls + "'");
    }
    if (attributes.type == RType::Pairlist)
      for (size_t i = 0; i < attributes.items.size(); ++i)
        out.attributes.push_back({attributes.tags[i], std::move(attributes.items[i])});
    return out;
  }
};

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Refuses the compressions R can write but zlib cannot read.
void check_compression(std::string_view bytes, const std::string& source) {
  if (starts_with(bytes, "BZh"))
    throw std::runtime_error("'" + source + "' is bzip2-compressed, which is unsupported: re-save it in R with "
                             "save(..., compress = \"gzip\") or decompress it (bunzip2)");
  if (starts_with(bytes, std::string_view("\xFD" "7zXZ\0", 6)))
    throw std::runtime_error("'" + source + "' is xz-compressed, which is unsupported: re-save it in R with "
                             "save(..., compress = \"gzip\") or decompress it (unxz)");
}

// Up to n bytes from the start of the stream (fewer when it is shorter).
std::string read_head(ByteSource& in, size_t n) {
  std::string head;
  char c;
  while (head.size() < n && in.read(&c, 1)) head += c;
  return head;
}

// Checks the format line ("X\n" = XDR, the only one supported).
void check_format_line(const std::string& line, const std::string& source) {
  if (line == "X\n") return;
  if (line == "A\n")
    throw std::runtime_error("'" + source + "' uses R's ascii serialisation format, which is unsupported: re-save "
                             "it with ascii = FALSE (the default)");
  if (line == "B\n")
    throw std::runtime_error("'" + source + "' uses R's native binary serialisation format, which is "
                             "unsupported: re-save it with the default (XDR) format");
  throw std::runtime_error("'" + source + "' is not an R serialisation stream: expected the format line \"X\\n\"" +
                           (line.size() < 2 ? std::string(" but the data ends") : ""));
}

}  // namespace

// ---- RObject -------------------------------------------------------------------------------------

int64_t RObject::length() const {
  switch (type) {
    case RType::Logical: case RType::Integer: return int64_t(ints.size());
    case RType::Real: return int64_t(reals.size());
    case RType::String: case RType::Char: case RType::Symbol: return int64_t(strings.size());
    case RType::List: case RType::Pairlist: case RType::Language: return int64_t(items.size());
    case RType::Nil: return 0;
  }
  return 0;
}

const RObject* RObject::attribute(const std::string& name) const {
  for (const auto& a : attributes)
    if (a.name == name) return &a.value;
  return nullptr;
}

bool RObject::inherits(const std::string& cls) const {
  const RObject* c = attribute("class");
  if (!c || c->type != RType::String) return false;
  return std::find(c->strings.begin(), c->strings.end(), cls) != c->strings.end();
}

std::vector<int64_t> RObject::dim() const {
  const RObject* d = attribute("dim");
  std::vector<int64_t> out;
  if (d && d->type == RType::Integer)
    for (int32_t v : d->ints) out.push_back(v);
  if (d && d->type == RType::Real)
    for (double v : d->reals) out.push_back(v >= 0 && v < 9e15 ? int64_t(v) : -1);  // -1: not a valid extent
  return out;
}

std::string RObject::describe() const {
  if (is_data_frame())
    return "data.frame (" + std::to_string(data_frame_rows(*this)) + " rows, " + std::to_string(items.size()) +
           " columns)";
  if (is_factor()) {
    const RObject* levels = attribute("levels");
    return "factor of length " + std::to_string(length()) + " with " +
           std::to_string(levels ? levels->length() : 0) + " levels";
  }
  std::string kind;
  switch (type) {
    case RType::Nil: return special == 0 || special == kNilValueSxp ? "NULL" : r_type_name(special);
    case RType::Symbol: return "symbol '" + (strings.empty() ? std::string() : strings[0]) + "'";
    case RType::Pairlist: kind = "pairlist"; break;
    case RType::Language: kind = "call"; break;
    case RType::Char: return "CHARSXP";
    case RType::Logical: kind = "logical"; break;
    case RType::Integer: kind = "integer"; break;
    case RType::Real: kind = "double"; break;
    case RType::String: kind = "character"; break;
    case RType::List: kind = "list"; break;
  }
  const auto d = dim();
  if (d.size() == 2) return kind + " matrix " + std::to_string(d[0]) + " x " + std::to_string(d[1]);
  return kind + " vector of length " + std::to_string(length());
}

std::string r_type_name(int code) {
  static const std::pair<int, const char*> names[] = {
      {0, "NILSXP"}, {1, "SYMSXP"}, {2, "LISTSXP"}, {3, "CLOSXP"}, {4, "ENVSXP"}, {5, "PROMSXP"},
      {6, "LANGSXP"}, {7, "SPECIALSXP"}, {8, "BUILTINSXP"}, {9, "CHARSXP"}, {10, "LGLSXP"}, {13, "INTSXP"},
      {14, "REALSXP"}, {15, "CPLXSXP"}, {16, "STRSXP"}, {17, "DOTSXP"}, {18, "ANYSXP"}, {19, "VECSXP"},
      {20, "EXPRSXP"}, {21, "BCODESXP"}, {22, "EXTPTRSXP"}, {23, "WEAKREFSXP"}, {24, "RAWSXP"}, {25, "S4SXP"},
      {238, "ALTREP_SXP"}, {239, "ATTRLISTSXP"}, {240, "ATTRLANGSXP"}, {241, "BASEENV_SXP"},
      {242, "EMPTYENV_SXP"}, {243, "BCREPREF"}, {244, "BCREPDEF"}, {245, "GENERICREFSXP"},
      {246, "CLASSREFSXP"}, {247, "PERSISTSXP"}, {248, "PACKAGESXP"}, {249, "NAMESPACESXP"},
      {250, "BASENAMESPACE_SXP"}, {251, "MISSINGARG_SXP"}, {252, "UNBOUNDVALUE_SXP"}, {253, "GLOBALENV_SXP"},
      {254, "NILVALUE_SXP"}, {255, "REFSXP"}};
  for (const auto& [c, name] : names)
    if (c == code) return std::string(name) + " (" + std::to_string(code) + ")";
  return "type " + std::to_string(code);
}

// ---- files ---------------------------------------------------------------------------------------

std::map<std::string, RObject> parse_rdata(std::string_view bytes, const std::string& source) {
  check_compression(bytes, source);
  ByteSource in(bytes, source);
  const std::string magic = read_head(in, 5);
  if (magic == "RDA2\n" || magic == "RDA3\n")
    throw std::runtime_error("'" + source + "' was saved with ascii = TRUE, which is unsupported: re-save it "
                             "with the default binary format");
  if (magic == "RDB2\n" || magic == "RDB3\n")
    throw std::runtime_error("'" + source + "' uses R's native binary format, which is unsupported: re-save it "
                             "with the default (XDR) format");
  if (magic != "RDX2\n" && magic != "RDX3\n") {
    if (starts_with(magic, "X\n"))
      throw std::runtime_error("'" + source + "' holds a single serialised object (saveRDS); read it with read_rds");
    throw std::runtime_error("'" + source + "' is not an R data file: expected the header \"RDX2\" or \"RDX3\" (" +
                             (magic.size() < 5 ? "the data is only " + std::to_string(magic.size()) + " bytes long"
                                               : std::string("found other bytes")) + ")");
  }
  check_format_line(read_head(in, 2), source);
  Parser parser(in, source);
  parser.read_version_header();
  RObject top = parser.read_item();
  in.check_complete();
  if (top.type == RType::Nil) return {};  // save() of nothing
  if (top.type != RType::Pairlist) parser.fail("expected the pairlist of saved objects but found " + top.describe());
  std::map<std::string, RObject> objects;
  for (size_t i = 0; i < top.items.size(); ++i) {
    if (top.tags[i].empty()) parser.fail("saved object " + std::to_string(i + 1) + " has no name");
    objects[top.tags[i]] = std::move(top.items[i]);
  }
  return objects;
}

RObject parse_rds(std::string_view bytes, const std::string& source) {
  check_compression(bytes, source);
  ByteSource in(bytes, source);
  const std::string line = read_head(in, 2);
  if (line == "RD") throw std::runtime_error("'" + source + "' is an .rda file; read it with read_rdata");
  check_format_line(line, source);
  Parser parser(in, source);
  parser.read_version_header();
  RObject object = parser.read_item();
  in.check_complete();
  return object;
}

std::map<std::string, RObject> read_rdata(const std::string& path) {
  return parse_rdata(read_file_bytes(path), path);
}

RObject read_rds(const std::string& path) { return parse_rds(read_file_bytes(path), path); }

// ---- data.frames ---------------------------------------------------------------------------------

std::vector<std::string> data_frame_row_names(const RObject& frame, bool* automatic) {
  const RObject* names = frame.attribute("row.names");
  std::vector<std::string> out;
  if (automatic) *automatic = true;
  if (!names) {
    const int64_t n = frame.items.empty() ? 0 : frame.items[0].length();
    for (int64_t i = 1; i <= n; ++i) out.push_back(std::to_string(i));
    return out;
  }
  if (names->type == RType::Integer) {
    if (names->ints.size() == 2 && names->ints[0] == RObject::kNaInteger) {
      const int64_t n = std::abs(int64_t(names->ints[1]));
      if (!frame.items.empty() && frame.items[0].length() != n)
        throw std::runtime_error("a data.frame's compact row.names declare " + std::to_string(n) +
                                 " rows but its first column has " + std::to_string(frame.items[0].length()));
      for (int64_t i = 1; i <= n; ++i) out.push_back(std::to_string(i));
    } else {
      for (int32_t v : names->ints) out.push_back(v == RObject::kNaInteger ? "NA" : std::to_string(v));
    }
    return out;
  }
  if (names->type == RType::String) {
    if (automatic) *automatic = false;
    return names->strings;
  }
  if (names->type == RType::Real) {
    for (double v : names->reals) out.push_back(format_number(v));
    return out;
  }
  throw std::runtime_error("a data.frame's row.names attribute is a " + names->describe());
}

int64_t data_frame_rows(const RObject& frame) {
  const RObject* names = frame.attribute("row.names");
  if (names && names->type == RType::Integer && names->ints.size() == 2 && names->ints[0] == RObject::kNaInteger)
    return std::abs(int64_t(names->ints[1]));  // compact c(NA, -n): no need to spell out n names
  if (names && (names->type == RType::Integer || names->type == RType::Real || names->type == RType::String))
    return names->length();
  return frame.items.empty() ? 0 : frame.items[0].length();
}

std::vector<Annotation> data_frame_annotations(const RObject& frame, const std::string& what) {
  if (!frame.is_data_frame()) throw std::runtime_error(what + " is not a data.frame but a " + frame.describe());
  const RObject* names = frame.attribute("names");
  if (!names || names->type != RType::String || names->strings.size() != frame.items.size())
    throw std::runtime_error(what + ": the data.frame's column names are missing or do not match its columns");
  const size_t rows = size_t(data_frame_rows(frame));
  std::vector<Annotation> out;
  for (size_t c = 0; c < frame.items.size(); ++c) {
    const RObject& column = frame.items[c];
    const std::string& name = names->strings[c];
    const std::string where = what + " column '" + name + "'";
    if (size_t(column.length()) != rows || !column.dim().empty())
      throw std::runtime_error(where + " is a " + column.describe() + ", not a vector of " + std::to_string(rows) +
                               " values");
    Annotation a;
    a.name = name;
    a.values.reserve(rows);
    if (column.is_factor()) {
      const RObject* levels = column.attribute("levels");
      if (!levels || levels->type != RType::String)
        throw std::runtime_error(where + " is a factor without character levels");
      for (int32_t code : column.ints) {
        if (code == RObject::kNaInteger) {
          a.values.push_back("NA");
        } else if (code < 1 || size_t(code) > levels->strings.size()) {
          throw std::runtime_error(where + ": factor code " + std::to_string(code) + " is outside its " +
                                   std::to_string(levels->strings.size()) + " levels");
        } else {
          a.values.push_back(levels->strings[size_t(code - 1)]);
        }
      }
    } else if (column.type == RType::Integer) {
      a.numeric = true;
      for (int32_t v : column.ints) {
        const bool na = v == RObject::kNaInteger;
        a.values.push_back(na ? "NA" : std::to_string(v));
        a.numbers.push_back(na ? std::nan("") : double(v));
      }
    } else if (column.type == RType::Real) {
      a.numeric = true;
      for (double v : column.reals) {
        a.values.push_back(format_number(v));
        a.numbers.push_back(v);
      }
    } else if (column.type == RType::Logical) {
      for (int32_t v : column.ints) a.values.push_back(v == RObject::kNaInteger ? "NA" : v ? "TRUE" : "FALSE");
    } else if (column.type == RType::String) {
      for (size_t i = 0; i < rows; ++i) a.values.push_back(column.string_na[i] ? "NA" : column.strings[i]);
    } else {
      throw std::runtime_error(where + " is a " + column.describe() +
                               "; only factor, numeric, logical and character columns can become annotations");
    }
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace jess::cells

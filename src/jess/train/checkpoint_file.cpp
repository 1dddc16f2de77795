#include "jess/train/checkpoint_file.h"

#include <ATen/core/Dict.h>
#include <ATen/core/ivalue.h>
#include <caffe2/serialize/inline_container.h>
#include <caffe2/serialize/read_adapter_interface.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace jess::train {
namespace {

std::invalid_argument bad(const std::string& path, const std::string& what) {
  return std::invalid_argument("'" + path + "' is not a readable jess checkpoint: " + what);
}

const c10::IValue& field(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  auto it = d.find(c10::IValue(std::string(key)));
  if (it == d.end()) throw bad(path, std::string("no '") + key + "'");
  return it->value();
}

int64_t int_field(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  const c10::IValue& v = field(d, key, path);
  if (!v.isInt()) throw bad(path, std::string("'") + key + "' is not an integer");
  return v.toInt();
}

// LibTorch's unpickler builds each tensor from the sizes, strides and offset the pickle states over the
// storage record it names without checking that they fit (a tensor over an empty record crashed on first
// use: found by fuzz/fuzz_checkpoint); every tensor is checked here before anything reads it.
void check_fits_storage(const at::Tensor& t, const std::string& name, const std::string& path) {
  if (!t.defined()) throw bad(path, "tensor '" + name + "' is undefined");
  if (t.numel() == 0) return;
  if (t.storage_offset() < 0) throw bad(path, "tensor '" + name + "' has a negative storage offset");
  uint64_t last = uint64_t(t.storage_offset());
  for (int64_t i = 0; i < t.dim(); ++i) {
    if (t.stride(i) < 0) throw bad(path, "tensor '" + name + "' has a negative stride");
    uint64_t step = 0;
    if (__builtin_mul_overflow(uint64_t(t.size(i) - 1), uint64_t(t.stride(i)), &step) ||
        __builtin_add_overflow(last, step, &last))
      throw bad(path, "tensor '" + name + "' has impossible sizes");
  }
  uint64_t needed = 0;
  if (__builtin_mul_overflow(last + 1, uint64_t(t.element_size()), &needed) || !t.storage().data() ||
      needed > uint64_t(t.storage().nbytes()))
    throw bad(path, "tensor '" + name + "' lies outside its storage (" + std::to_string(t.storage().nbytes()) + " bytes)");
}

at::Tensor bytes_field(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  if (!d.contains(c10::IValue(std::string(key)))) return at::Tensor();
  const c10::IValue& v = field(d, key, path);
  if (!v.isTensor() || v.toTensor().scalar_type() != at::kByte || v.toTensor().dim() != 1)
    throw bad(path, std::string("'") + key + "' is not a byte tensor");
  check_fits_storage(v.toTensor(), key, path);
  return v.toTensor().contiguous();
}

std::map<std::string, at::Tensor> tensor_map(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  const c10::IValue& v = field(d, key, path);
  if (!v.isGenericDict()) throw bad(path, std::string("'") + key + "' is not a dictionary of tensors");
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : v.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor())
      throw bad(path, std::string("'") + key + "' holds something other than named tensors");
    check_fits_storage(kv.value().toTensor(), kv.key().toStringRef(), path);
    out[kv.key().toStringRef()] = kv.value().toTensor();
  }
  return out;
}

// The zip container's reads, bounded by the bytes there are. LibTorch 1.13's torch::pickle_load reads
// through an adapter without this check, and a zip directory pointing past the end of the file made it
// read out of bounds (found by fuzz/fuzz_checkpoint); this is pickle_load with a bounded adapter.
class BoundedBytes : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedBytes(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  // A short count makes miniz fail the read (nothing is zero-filled: a damaged size made that a memset of
  // gigabytes).
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    const size_t available = pos < bytes_.size() ? std::min<uint64_t>(n, bytes_.size() - pos) : 0;
    if (available > 0) std::memcpy(buf, bytes_.data() + pos, available);
    return available;
  }

 private:
  const std::vector<char>& bytes_;
};

// The zip directory, checked before LibTorch reads it: LibTorch allocates each record's declared size
// before extracting it, and miniz checks the sizes only for some entries (not for compressed or zip64
// ones), so a damaged directory allocated and zero-filled gigabytes for a small file (found by
// fuzz/fuzz_checkpoint). torch.save and jess write every record stored (uncompressed), so each entry
// must be stored, its two sizes equal, and its bytes inside the file.
void check_zip_directory(const std::vector<char>& b) {
  const uint64_t n = b.size();
  auto le = [&](uint64_t at, int width) -> uint64_t {
    if (at > n || uint64_t(width) > n - at) throw std::invalid_argument("the zip directory points outside the file");
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= uint64_t(static_cast<unsigned char>(b[size_t(at) + i])) << (8 * i);
    return v;
  };
  if (n < 22) throw std::invalid_argument("too short for a zip archive");
  uint64_t eocd = n;  // the end-of-directory record: the last one, within the comment's reach of the end
  for (uint64_t at = n - 22;; --at) {
    if (le(at, 4) == 0x06054b50) {
      eocd = at;
      break;
    }
    if (at == 0 || n - at > 22 + 65535) break;
  }
  if (eocd == n) throw std::invalid_argument("no zip directory (not a torch.save archive)");
  uint64_t entries = le(eocd + 10, 2), dir_size = le(eocd + 12, 4), dir_offset = le(eocd + 16, 4);
  if (entries == 0xFFFF || dir_size == 0xFFFFFFFF || dir_offset == 0xFFFFFFFF) {  // zip64
    if (eocd < 20 || le(eocd - 20, 4) != 0x07064b50) throw std::invalid_argument("a damaged zip64 directory");
    const uint64_t z = le(eocd - 20 + 8, 8);
    if (le(z, 4) != 0x06064b50) throw std::invalid_argument("a damaged zip64 directory");
    entries = le(z + 32, 8), dir_size = le(z + 40, 8), dir_offset = le(z + 48, 8);
  }
  if (dir_offset > n || dir_size > n - dir_offset) throw std::invalid_argument("the zip directory lies outside the file");
  const uint64_t end = dir_offset + dir_size;
  uint64_t at = dir_offset;
  for (uint64_t e = 0; e < entries; ++e) {
    if (at > end || end - at < 46 || le(at, 4) != 0x02014b50) throw std::invalid_argument("a damaged zip directory entry");
    const uint64_t method = le(at + 10, 2), name = le(at + 28, 2), extra = le(at + 30, 2), comment = le(at + 32, 2);
    uint64_t packed = le(at + 20, 4), size = le(at + 24, 4), offset = le(at + 42, 4);
    const uint64_t next = at + 46 + name + extra + comment;
    if (next > end) throw std::invalid_argument("a damaged zip directory entry");
    if (size == 0xFFFFFFFF || packed == 0xFFFFFFFF || offset == 0xFFFFFFFF) {  // the zip64 extra field holds them
      uint64_t x = at + 46 + name;
      const uint64_t x_end = x + extra;
      bool found = false;
      while (!found && x + 4 <= x_end) {
        const uint64_t id = le(x, 2), len = le(x + 2, 2);
        if (x + 4 + len > x_end) break;
        if (id == 1) {
          uint64_t f = x + 4;
          auto take = [&](uint64_t& v) {
            if (v != 0xFFFFFFFF) return;
            if (f + 8 > x + 4 + len) throw std::invalid_argument("a damaged zip64 entry");
            v = le(f, 8), f += 8;
          };
          take(size), take(packed), take(offset);
          found = true;
        }
        x += 4 + len;
      }
      if (!found) throw std::invalid_argument("a damaged zip64 entry");
    }
    if (method != 0) throw std::invalid_argument("a compressed zip entry (torch.save and jess store them uncompressed)");
    if (packed != size) throw std::invalid_argument("a zip entry with two different sizes");
    if (offset > n || size > n - offset) throw std::invalid_argument("a zip entry larger than the file");
    at = next;
  }
}

// LibTorch 1.13's unpickler reserves a string of the length an opcode declares before reading it, so a
// damaged length (up to 2^64) allocated gigabytes for a 1-KB file (found by fuzz/fuzz_checkpoint). This
// walks the pickle's opcodes (the protocol-0..5 argument formats of Python's pickletools) and refuses any
// length-prefixed argument that claims more bytes than the archive has left; the unpickler then parses
// what passed. Unknown opcodes end the walk: the unpickler refuses them itself. The memo is simulated
// too: the unpickler resizes its memo table to a PUT's index (a 4-byte index reserved 64 GB, found by
// the same fuzzer), and a GET must name an entry that exists, so a PUT may only append (as every
// pickler writes them) and a GET's index must be below the memo's size.
void check_pickle_lengths(const char* data, size_t size) {
  size_t pos = 0;
  auto le = [&](size_t width) -> uint64_t {
    if (size - pos < width) throw std::invalid_argument("the pickle ends inside an opcode's argument");
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) v |= uint64_t(static_cast<unsigned char>(data[pos + i])) << (8 * i);
    pos += width;
    return v;
  };
  auto skip = [&](uint64_t n) {
    if (n > size - pos)
      throw std::invalid_argument("the pickle declares a " + std::to_string(n) + "-byte value with only " +
                                  std::to_string(size - pos) + " bytes left");
    pos += static_cast<size_t>(n);
  };
  auto line = [&] {
    const void* nl = std::memchr(data + pos, '\n', size - pos);
    if (!nl) throw std::invalid_argument("the pickle ends inside a text argument");
    pos = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
  };
  uint64_t memo = 0;  // entries in the unpickler's memo table
  auto put = [&](uint64_t index) {
    if (index > memo)
      throw std::invalid_argument("the pickle stores memo entry " + std::to_string(index) + " of " + std::to_string(memo));
    if (index == memo) ++memo;
  };
  auto get = [&](uint64_t index) {
    if (index >= memo)
      throw std::invalid_argument("the pickle reads memo entry " + std::to_string(index) + " of " + std::to_string(memo));
  };
  while (pos < size) {
    const unsigned char op = static_cast<unsigned char>(data[pos++]);
    switch (op) {
      case '.': return;  // STOP
      // the memo
      case 'q': put(le(1)); break;  // BINPUT
      case 'r': put(le(4)); break;  // LONG_BINPUT
      case 'h': get(le(1)); break;  // BINGET
      case 'j': get(le(4)); break;  // LONG_BINGET
      case 0x94: ++memo; break;     // MEMOIZE
      // fixed-width arguments
      case 'K': case 0x80: case 0x82: le(1); break;
      case 'M': case 0x83: le(2); break;
      case 'J': case 0x84: le(4); break;
      case 'G': case 0x95: le(8); break;
      // length-prefixed arguments
      case 'U': case 'C': case 0x8c: case 0x8a: skip(le(1)); break;
      case 'T': case 'X': case 'B': case 0x8b: skip(le(4)); break;
      case 0x8d: case 0x8e: case 0x96: skip(le(8)); break;
      // newline-terminated arguments
      case 'I': case 'L': case 'F': case 'S': case 'V': case 'g': case 'p': case 'P': line(); break;
      case 'c': case 'i': line(); line(); break;
      // no argument
      case '(': case '0': case '1': case '2': case 'N': case 0x88: case 0x89: case ']': case 'a': case 'e':
      case 'l': case ')': case 't': case 0x85: case 0x86: case 0x87: case '}': case 'd': case 's': case 'u':
      case 'R': case 'b': case 0x81: case 'Q': case 'o': case 0x8f: case 0x90: case 0x91: case 0x92: case 0x93:
      case 0x97: case 0x98: break;
      default: return;
    }
  }
}

c10::IValue unpickle_archive(const std::vector<char>& bytes) {
  check_zip_directory(bytes);
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedBytes>(bytes));
  if (!reader.hasRecord("data.pkl")) throw std::invalid_argument("no data.pkl in the archive");
  const auto [pickle, pickle_size] = reader.getRecord("data.pkl");
  check_pickle_lengths(static_cast<const char*>(pickle.get()), pickle_size);
  return torch::jit::readArchiveAndTensors("data", /*pickle_prefix=*/"", /*tensor_prefix=*/"", c10::nullopt,
                                           c10::nullopt, c10::nullopt, reader);
}

}  // namespace

std::vector<char> read_checkpoint_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::invalid_argument("cannot open checkpoint '" + path + "'");
  return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

ResumeState parse_checkpoint(const std::vector<char>& bytes, const std::string& path) {
  c10::IValue v;
  try {
    v = unpickle_archive(bytes);
  } catch (const std::exception& e) {
    throw bad(path, std::string(e.what()).substr(0, 200));
  }
  if (!v.isGenericDict()) throw bad(path, "it does not hold a dictionary");
  const auto d = v.toGenericDict();
  // Checkpoints carry their format's version (absent: version 1, written before the key existed).
  if (d.contains(c10::IValue(std::string("format")))) {
    const int64_t format = int_field(d, "format", path);
    if (format > kCheckpointFormat)
      throw std::invalid_argument("'" + path + "' was written by a newer jess (checkpoint format " +
                                  std::to_string(format) + "; this jess reads up to " +
                                  std::to_string(kCheckpointFormat) + "): update jess to read it");
  }
  ResumeState s;
  s.model = tensor_map(d, "model", path);
  if (d.contains(c10::IValue(std::string("extra")))) s.extra = tensor_map(d, "extra", path);
  const c10::IValue& config = field(d, "config", path);
  if (!config.isString()) throw bad(path, "'config' is not text");
  s.config = config.toStringRef();
  s.epoch = int_field(d, "epoch", path);
  s.step = int_field(d, "step", path);
  s.global_step = int_field(d, "global_step", path);
  if (s.epoch < 0 || s.step < 0 || s.global_step < 0) throw bad(path, "a negative epoch or step");
  s.optimizer = bytes_field(d, "optimizer", path);
  s.rng = bytes_field(d, "rng", path);
  if (d.contains(c10::IValue(std::string("epoch_loss_sum")))) {
    const c10::IValue& sum = field(d, "epoch_loss_sum", path);
    if (!sum.isDouble()) throw bad(path, "'epoch_loss_sum' is not a number");
    s.epoch_loss_sum = sum.toDouble();
    s.epoch_loss_count = int_field(d, "epoch_loss_count", path);
  }
  return s;
}

Checkpoint load_checkpoint(const std::string& path) { return parse_checkpoint(read_checkpoint_bytes(path), path); }

}  // namespace jess::train

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

at::Tensor bytes_field(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  if (!d.contains(c10::IValue(std::string(key)))) return at::Tensor();
  const c10::IValue& v = field(d, key, path);
  if (!v.isTensor() || v.toTensor().scalar_type() != at::kByte || v.toTensor().dim() != 1)
    throw bad(path, std::string("'") + key + "' is not a byte tensor");
  return v.toTensor().contiguous();
}

std::map<std::string, at::Tensor> tensor_map(const c10::impl::GenericDict& d, const char* key, const std::string& path) {
  const c10::IValue& v = field(d, key, path);
  if (!v.isGenericDict()) throw bad(path, std::string("'") + key + "' is not a dictionary of tensors");
  std::map<std::string, at::Tensor> out;
  for (const auto& kv : v.toGenericDict()) {
    if (!kv.key().isString() || !kv.value().isTensor())
      throw bad(path, std::string("'") + key + "' holds something other than named tensors");
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
  size_t read(uint64_t pos, void* buf, size_t n, const char* /*what*/) const override {
    const size_t available = pos < bytes_.size() ? std::min<uint64_t>(n, bytes_.size() - pos) : 0;
    if (available > 0) std::memcpy(buf, bytes_.data() + pos, available);
    if (available < n) std::memset(static_cast<char*>(buf) + available, 0, n - available);
    return available;
  }

 private:
  const std::vector<char>& bytes_;
};

c10::IValue unpickle_archive(const std::vector<char>& bytes) {
  caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedBytes>(bytes));
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

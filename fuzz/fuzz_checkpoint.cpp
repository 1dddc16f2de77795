// libFuzzer target: the checkpoint reader (train/checkpoint_file: torch's pickle in a zip, then every
// field type-checked) on arbitrary bytes; the seed corpus holds small checkpoints as jess writes them.
#include <cstdint>
#include <exception>
#include <vector>

#include "jess/train/checkpoint_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const std::vector<char> bytes(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size);
    auto s = jess::train::parse_checkpoint(bytes, "fuzz");
    for (const auto& kv : s.model) (void)kv.second.sum();  // touch every tensor's storage
  } catch (const std::exception&) {
  }
  return 0;
}

#pragma once
// Reading jess checkpoints: torch.save-compatible pickles (a zip of a pickled dict and its tensors) written
// by train/trainer. The bytes are parsed once and every field's type checked up front, so a damaged,
// truncated or foreign file is a clear error rather than an internal assertion deep in a resume (fuzzed:
// fuzz/fuzz_checkpoint).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace jess::train {

constexpr int64_t kCheckpointFormat = 1;  // bump when the checkpoint's layout changes incompatibly

// A checkpoint read back: the model state dict and the stored fields.
struct Checkpoint {
  std::map<std::string, at::Tensor> model;
  std::map<std::string, at::Tensor> extra;
  std::string config;
  int64_t epoch = 0, step = 0, global_step = 0;
};

// What a resume needs besides: the optimiser's archive (torch's own format, read by libtorch), the RNG
// state and the running loss of the interrupted epoch.
struct ResumeState : Checkpoint {
  at::Tensor optimizer;  // uint8 bytes; undefined when absent
  at::Tensor rng;        // uint8 generator state; undefined when absent
  double epoch_loss_sum = 0;
  int64_t epoch_loss_count = 0;
};

std::vector<char> read_checkpoint_bytes(const std::string& path);
// Parses and type-checks; throws std::invalid_argument naming `path` and what is wrong.
ResumeState parse_checkpoint(const std::vector<char>& bytes, const std::string& path);
Checkpoint load_checkpoint(const std::string& path);

}  // namespace jess::train

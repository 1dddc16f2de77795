#pragma once
// Batch normalisation (Ioffe & Szegedy 2015) over dimension 1 of (N, C, ...) inputs, with the same
// parameter and buffer names as torch's BatchNorm1d/2d (weight, bias, running_mean, running_var,
// num_batches_tracked), so checkpoints load either way, and one difference: in data-parallel training
// (dist.h) the batch statistics are those of the global batch (SyncBatchNorm): the per-channel sums
// are all-reduced with a differentiable all-reduce, so forward and backward equal BatchNorm on the
// concatenated batch. On by default when several processes train (set_sync_batch_norm(false), the CLI's
// --no-sync-bn, keeps per-rank statistics); one process uses ATen's batch_norm kernel unchanged.
#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <cstdint>

namespace jess::nn {

struct BatchNormOptions {
  int64_t features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
};

class BatchNormImpl : public torch::nn::Cloneable<BatchNormImpl> {
 public:
  explicit BatchNormImpl(int64_t features) : BatchNormImpl(BatchNormOptions{features}) {}
  explicit BatchNormImpl(const BatchNormOptions& options);
  void reset() override;
  at::Tensor forward(const at::Tensor& x);

  BatchNormOptions options;
  at::Tensor weight, bias, running_mean, running_var, num_batches_tracked;
};
TORCH_MODULE(BatchNorm);

void set_sync_batch_norm(bool on);  // process-wide; default on
bool sync_batch_norm();

}  // namespace jess::nn

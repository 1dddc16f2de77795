#include "jess/nn/batch_norm.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "jess/dist/dist.h"

namespace jess::nn {

namespace {
std::atomic<bool> g_sync{true};
}

void set_sync_batch_norm(bool on) { g_sync = on; }
bool sync_batch_norm() { return g_sync; }

BatchNormImpl::BatchNormImpl(const BatchNormOptions& o) : options(o) {
  if (o.features < 1) throw std::invalid_argument("BatchNorm: the number of features must be positive");
  reset();
}

void BatchNormImpl::reset() {
  const int64_t c = options.features;
  weight = register_parameter("weight", at::ones({c}));
  bias = register_parameter("bias", at::zeros({c}));
  running_mean = register_buffer("running_mean", at::zeros({c}));
  running_var = register_buffer("running_var", at::ones({c}));
  num_batches_tracked = register_buffer("num_batches_tracked", at::zeros({}, at::kLong));
}

at::Tensor BatchNormImpl::forward(const at::Tensor& x) {
  if (x.dim() < 2 || x.size(1) != options.features)
    throw std::invalid_argument("BatchNorm: expected (N, " + std::to_string(options.features) + ", ...) input, got " +
                                std::to_string(x.dim()) + " dimensions" + (x.dim() >= 2 ? " with " + std::to_string(x.size(1)) + " channels" : ""));
  if (is_training()) {
    torch::NoGradGuard g;
    num_batches_tracked.add_(1);
  }
  if (!is_training() || !g_sync || !dist::active())
    return at::batch_norm(x, weight, bias, running_mean, running_var, is_training(), options.momentum, options.eps, true);
  // Global statistics (two passes, as one process computes them): the channel sums of every rank,
  // summed with gradient, give the mean; then the sums of squared deviations give the biased variance.
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[1] = options.features;
  // Every rank holds an equal share of the global batch (dist::shard_of), so the global count is known.
  const double n = double(x.numel() / options.features) * double(dist::world_size());
  const auto mean = dist::all_reduce_sum_with_grad(x.sum(dims)) / n;
  const auto centred = x - mean.view(shape);
  const auto var = dist::all_reduce_sum_with_grad(centred.pow(2).sum(dims)) / n;
  {
    torch::NoGradGuard g;
    const double m = options.momentum;
    running_mean.mul_(1 - m).add_(mean.detach(), m);
    running_var.mul_(1 - m).add_(var.detach() * (n / std::max(1.0, n - 1)), m);
  }
  return centred * at::rsqrt(var + options.eps).view(shape) * weight.view(shape) + bias.view(shape);
}

}  // namespace jess::nn

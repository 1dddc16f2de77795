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
  // Global statistics from one differentiable all-gather of every rank's channel means and sums of
  // squared deviations (its backward is one all-reduce), combined exactly (Chan et al.'s parallel
  // variance: M2 = sum_r M2_r + m sum_r (mean_r - mean)^2, every rank holding m = n / world rows), so
  // no sum of squares about zero loses precision; forward and backward equal BatchNorm on the global
  // batch.
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  std::vector<int64_t> shape(size_t(x.dim()), 1);
  shape[1] = options.features;
  const int64_t c = options.features;
  const double m_local = double(x.numel() / c), n = m_local * double(dist::world_size());
  const auto local_mean = x.mean(dims);
  const auto local_m2 = (x - local_mean.view(shape)).pow(2).sum(dims);
  const auto stats = dist::all_gather_with_grad(at::cat({local_mean, local_m2}).unsqueeze(0));  // (world, 2C)
  const auto means = stats.narrow(1, 0, c), m2s = stats.narrow(1, c, c);
  const auto mean = means.mean(0);
  const auto var = (m2s.sum(0) + m_local * (means - mean).pow(2).sum(0)) / n;
  {
    torch::NoGradGuard g;
    const double m = options.momentum;
    running_mean.mul_(1 - m).add_(mean.detach(), m);
    running_var.mul_(1 - m).add_(var.detach() * (n / std::max(1.0, n - 1)), m);
  }
  // y = x * scale + shift per channel: two passes over x instead of four.
  const auto scale = at::rsqrt(var + options.eps) * weight;
  return at::addcmul((bias - mean * scale).view(shape), x, scale.view(shape));
}

}  // namespace jess::nn

// Views per second of the PDE view maker (all KdV generators composed, Strang splitting), and the
// time of one training step of a compact encoder on the same views, so the two can be compared.
// Prints one JSON object. Usage: jess_bench_views --h5 kdv.h5 [--batch 256] [--reps 5] [--threads 2]
#include <torch/torch.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "jess/core/runtime.h"
#include "jess/pde/views.h"

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// Stand-in for the CPU default encoder until the SSL trainer lands: a 1-D ResNet over x with the
// view's time steps as channels, 512-d representation, VICReg-style projector.
struct EncoderImpl : torch::nn::Module {
  torch::nn::Sequential body{nullptr};
  torch::nn::Sequential head{nullptr};
  EncoderImpl(int64_t in_channels) {
    body = register_module("body", torch::nn::Sequential());
    int64_t c = in_channels;
    for (int64_t width : {64, 128, 256, 512}) {
      body->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(c, width, 3).stride(2).padding(1).bias(false)));
      body->push_back(torch::nn::BatchNorm1d(width));
      body->push_back(torch::nn::ReLU());
      body->push_back(torch::nn::Conv1d(torch::nn::Conv1dOptions(width, width, 3).padding(1).bias(false)));
      body->push_back(torch::nn::BatchNorm1d(width));
      body->push_back(torch::nn::ReLU());
      c = width;
    }
    body->push_back(torch::nn::AdaptiveAvgPool1d(1));
    body->push_back(torch::nn::Flatten());
    head = register_module("head", torch::nn::Sequential());
    head->push_back(torch::nn::Linear(512, 512));
    head->push_back(torch::nn::BatchNorm1d(512));
    head->push_back(torch::nn::ReLU());
    head->push_back(torch::nn::Linear(torch::nn::LinearOptions(512, 512).bias(false)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return head->forward(body->forward(x)); }
};
TORCH_MODULE(Encoder);

torch::Tensor vicreg(const torch::Tensor& a, const torch::Tensor& b) {
  const auto n = a.size(0), d = a.size(1);
  auto inv = torch::mse_loss(a, b);
  auto xa = a - a.mean(0), xb = b - b.mean(0);
  auto var = torch::relu(1 - torch::sqrt(xa.var(0) + 1e-4)).mean() / 2 + torch::relu(1 - torch::sqrt(xb.var(0) + 1e-4)).mean() / 2;
  auto ca = xa.t().mm(xa) / (n - 1), cb = xb.t().mm(xb) / (n - 1);
  auto off = [&](const torch::Tensor& c) { return (c.pow(2).sum() - c.diagonal().pow(2).sum()) / d; };
  return 25 * inv + 25 * var + off(ca) + off(cb);
}
}  // namespace

int main(int argc, char** argv) {
  std::string h5;
  int64_t batch = 256, reps = 5, threads = 0, step_batch = 0;
  double projective = -1, superposition = -1;  // <0: the equation default
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--h5") h5 = argv[i + 1];
    else if (k == "--batch") batch = std::stoll(argv[i + 1]);
    else if (k == "--reps") reps = std::stoll(argv[i + 1]);
    else if (k == "--threads") threads = std::stoll(argv[i + 1]);
    else if (k == "--step-batch") step_batch = std::stoll(argv[i + 1]);
    else if (k == "--projective") projective = std::stod(argv[i + 1]);
    else if (k == "--superposition") superposition = std::stod(argv[i + 1]);
  }
  if (h5.empty()) {
    std::fprintf(stderr, "usage: jess_bench_views --h5 kdv.h5 [--batch 256] [--reps 5] [--threads N]\n");
    return 2;
  }
  if (step_batch == 0) step_batch = batch;
  jess::init_runtime(int(threads), false);
  jess::pde::Equation eq;
  auto data = jess::pde::load_split(h5, "train", &eq);
  if (data.u.size(0) < batch) {
    std::fprintf(stderr, "need at least %lld trajectories\n", (long long)batch);
    return 2;
  }
  auto idx = torch::arange(batch);
  jess::pde::GridBatch b{data.u.index_select(0, idx), data.dx.index_select(0, idx), data.dt.index_select(0, idx),
                         data.nu.index_select(0, idx)};
  jess::pde::AugmentOptions o;
  o.equation = jess::pde::equation_name(eq);
  o.projective = projective;
  o.superposition = superposition;
  o.resolve();
  jess::pde::make_views(eq, b, o, 0, 0);  // warm-up
  double best = 1e30, total = 0;
  for (int64_t r = 0; r < reps; ++r) {
    double t0 = now();
    auto v = jess::pde::make_views(eq, b, o, 1, uint64_t(r));
    double dt = now() - t0;
    best = std::min(best, dt);
    total += dt;
  }
  const double views_per_s = 2.0 * double(batch) / (total / double(reps));

  // One training step of the stand-in encoder on a batch of view pairs.
  torch::manual_seed(0);
  Encoder enc(o.crop_t);
  torch::optim::AdamW opt(enc->parameters(), torch::optim::AdamWOptions(3e-4));
  auto v = jess::pde::make_views(eq, b, o, 2, 0);
  auto x1 = v.view1.slice(0, 0, step_batch), x2 = v.view2.slice(0, 0, step_batch);
  auto step = [&] {
    opt.zero_grad();
    auto loss = vicreg(enc->forward(x1), enc->forward(x2));
    loss.backward();
    opt.step();
    return loss.item<double>();
  };
  step();
  double st = 0;
  const int steps = 3;
  for (int s = 0; s < steps; ++s) {
    double t0 = now();
    step();
    st += now() - t0;
  }
  st /= steps;
  const double view_time_per_step = 2.0 * double(step_batch) / views_per_s;
  std::printf("{\"batch\": %lld, \"views_per_s\": %.1f, \"best_batch_s\": %.4f, \"mean_batch_s\": %.4f, "
              "\"step_batch\": %lld, \"train_step_s\": %.4f, \"view_share_of_step\": %.4f, \"threads\": %d}\n",
              (long long)batch, views_per_s, best, total / double(reps), (long long)step_batch, st,
              view_time_per_step / st, jess::runtime_info().threads);
  return 0;
}

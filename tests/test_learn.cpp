// Core learning components: encoders/projector, the VICReg criterion (hand values, finite-difference
// gradients), the learning-rate schedule, and the trainer's checkpoint, exact-resume and NaN guards.
#include <sys/wait.h>
#include <algorithm>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "jess/core/config.h"
#include "jess/nn/encoders.h"
#include "jess/optim/lars.h"
#include "jess/ssl/criteria.h"
#include "jess/ssl/loss.h"
#include "jess/ssl/vicreg.h"
#include "jess/core/files.h"
#include "jess/train/trainer.h"

using namespace jess;

namespace {
int64_t parameter_count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& t : m.parameters()) n += t.numel();
  return n;
}
std::string temp_dir(const std::string& name) {
  std::string d = "/tmp/jess_test_learn_" + std::to_string(getpid()) + "_" + name;
  std::system(("rm -rf " + d).c_str());
  return d;
}

// VICReg written out with explicit loops over plain doubles (the reference conventions).
double vicreg_by_hand(const std::vector<std::vector<double>>& a, const std::vector<std::vector<double>>& b, double lam,
                      double mu, double nu, double eps) {
  const size_t B = a.size(), D = a[0].size();
  double inv = 0;
  for (size_t i = 0; i < B; ++i)
    for (size_t j = 0; j < D; ++j) inv += (a[i][j] - b[i][j]) * (a[i][j] - b[i][j]);
  inv /= double(B * D);
  auto var_cov = [&](const std::vector<std::vector<double>>& z, double& v, double& c) {
    std::vector<double> mean(D, 0);
    for (size_t i = 0; i < B; ++i)
      for (size_t j = 0; j < D; ++j) mean[j] += z[i][j] / double(B);
    v = 0, c = 0;
    for (size_t j = 0; j < D; ++j)
      for (size_t k = 0; k < D; ++k) {
        double cjk = 0;
        for (size_t i = 0; i < B; ++i) cjk += (z[i][j] - mean[j]) * (z[i][k] - mean[k]);
        cjk /= double(B - 1);
        if (j == k) v += std::max(0.0, 1 - std::sqrt(cjk + eps)) / double(D);
        else c += cjk * cjk / double(D);
      }
  };
  double va, ca, vb, cb;
  var_cov(a, va, ca);
  var_cov(b, vb, cb);
  return lam * inv + mu * (va + vb) / 2 + nu * (ca + cb);
}

std::vector<std::vector<double>> rows_of(const at::Tensor& t) {
  std::vector<std::vector<double>> r(size_t(t.size(0)), std::vector<double>(size_t(t.size(1))));
  auto a = t.accessor<double, 2>();
  for (int64_t i = 0; i < t.size(0); ++i)
    for (int64_t j = 0; j < t.size(1); ++j) r[size_t(i)][size_t(j)] = a[i][j];
  return r;
}
}  // namespace

TEST(VICReg, EqualsHandComputedValue) {
  // A 3 x 2 hand example: inv = mean of squared differences, etc.
  auto z1 = torch::tensor({{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}}, torch::kDouble);
  auto z2 = torch::tensor({{1.0, 0.5}, {0.0, 1.0}, {0.5, 1.0}}, torch::kDouble);
  // inv = (0.25 + 0.25) / 6 = 1/12. Column variances of z1: 1/3 each, covariance -1/6.
  // z2: col0 mean 0.5, var (0.25+0.25+0)/2 = 0.25; col1 mean 5/6, var (1/9+1/36+1/36)/2 = 1/12;
  // cov (0.5*(-1/3) + (-0.5)*(1/6) + 0)/2 = -1/8.
  const double eps = 1e-4;
  const double v1 = std::max(0.0, 1 - std::sqrt(1.0 / 3 + eps));
  const double v2 = (std::max(0.0, 1 - std::sqrt(0.25 + eps)) + std::max(0.0, 1 - std::sqrt(1.0 / 12 + eps))) / 2;
  const double c1 = 2 * (1.0 / 36) / 2, c2 = 2 * (1.0 / 64) / 2;
  const double expected = 25 * (1.0 / 12) + 25 * (v1 + v2) / 2 + 1 * (c1 + c2);
  ssl::VICRegLoss loss;
  auto t = loss(z1, z2);
  EXPECT_NEAR(t.loss.item<double>(), expected, 1e-12);
  EXPECT_NEAR(t.parts[0].second, 1.0 / 12, 1e-12);
  EXPECT_NEAR(t.parts[2].second, c1 + c2, 1e-12);
  // And against the loop implementation on random data with other weights.
  torch::manual_seed(3);
  auto a = torch::randn({7, 5}, torch::kDouble), b = torch::randn({7, 5}, torch::kDouble) * 0.3;
  ssl::VICRegLoss l2({2.0, 3.0, 0.5, 1e-3});
  EXPECT_NEAR(l2(a, b).loss.item<double>(), vicreg_by_hand(rows_of(a), rows_of(b), 2.0, 3.0, 0.5, 1e-3), 1e-12);
}

// Central finite differences of a criterion against its autograd gradient, entry by entry (float64).
static void expect_finite_difference_gradients(const ssl::JointLoss& loss, at::Tensor a, at::Tensor b, double tolerance,
                                        const std::string& what) {
  a = a.detach().requires_grad_(true);
  b = b.detach().requires_grad_(true);
  loss(a, b).loss.backward();
  const double h = 1e-6;
  for (auto* t : {&a, &b}) {
    auto g = t->grad().clone();
    for (int64_t i = 0; i < t->size(0); ++i)
      for (int64_t j = 0; j < t->size(1); ++j) {
        torch::NoGradGuard ng;
        auto p = t->detach().clone(), m = t->detach().clone();
        p[i][j] += h;
        m[i][j] -= h;
        auto value = [&](const at::Tensor& x) {
          return (t == &a ? loss(x, b.detach()) : loss(a.detach(), x)).loss.item<double>();
        };
        const double fd = (value(p) - value(m)) / (2 * h);
        EXPECT_NEAR(g[i][j].item<double>(), fd, tolerance * std::max(1.0, std::abs(fd))) << what << " " << i << "," << j;
      }
  }
}

TEST(VICReg, GradientMatchesFiniteDifferences) {
  torch::manual_seed(5);
  auto a = torch::randn({6, 4}, torch::kDouble) * 0.4, b = torch::randn({6, 4}, torch::kDouble) * 0.4;
  expect_finite_difference_gradients(ssl::VICRegLoss(), a, b, 1e-6, "vicreg");
}

TEST(VICReg, CollapseCostsTheVarianceTerm) {
  // Identical constant embeddings: invariance 0, covariance 0, variance term = 1 - sqrt(eps) per branch.
  auto z = torch::ones({8, 3}, torch::kDouble);
  ssl::VICRegLoss loss;
  EXPECT_NEAR(loss(z, z).loss.item<double>(), 25 * (1 - std::sqrt(1e-4)), 1e-12);
  EXPECT_THROW(ssl::make_loss("no-such-method"), std::invalid_argument);
  EXPECT_EQ(ssl::make_loss("vicreg")->name(), "vicreg");
}

TEST(Modules, ProjectorAndEncodersHaveTheReferenceShapes) {
  nn::ProjectorOptions po;
  po.input_dim = 16;
  po.sizes = nn::parse_layer_sizes("32-32-8");
  nn::Projector p(po);
  EXPECT_EQ(p->output_dim(), 8);
  // Linear-BN-ReLU x2 then Linear without bias: 3 weights, 2 biases, 2 BN (weight, bias).
  int weights = 0, biases = 0;
  for (const auto& kv : p->named_parameters()) {
    if (kv.key().find(".0.weight") != std::string::npos) ++weights;
    if (kv.key().find(".0.bias") != std::string::npos) ++biases;
  }
  EXPECT_EQ(weights, 3);
  EXPECT_EQ(biases, 2);
  EXPECT_EQ(p->forward(torch::randn({4, 16})).sizes(), (std::vector<int64_t>{4, 8}));
  EXPECT_THROW(nn::parse_layer_sizes("512-x"), std::invalid_argument);

  nn::EncoderOptions eo;
  eo.in_channels = 10;
  eo.width = 8;
  auto r1 = nn::make_encoder(eo);
  EXPECT_EQ(r1->output_dim(), 32);
  r1->eval();
  auto x = torch::randn({3, 10, 64});
  auto blocks = r1->forward_blocks(x);
  ASSERT_EQ(blocks.size(), 5u);
  EXPECT_TRUE(torch::allclose(blocks.back().second, r1->forward(x)));
  eo.arch = "resnet18";
  eo.in_channels = 3;
  auto r18 = nn::make_encoder(eo);
  r18->eval();
  EXPECT_EQ(r18->forward(torch::randn({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 512}));
  EXPECT_EQ(parameter_count(*r18), 11176512);  // torchvision resnet18 without fc: 11,689,512 - 513,000

  // resnet_small, width 32, one channel: 3x3 stem 1->32, blocks 32->32 (two 3x3), 32->64 and 64->128 (two 3x3
  // each plus a 1x1 stride-2 shortcut); BatchNorms (weight + bias) after each convolution.
  eo.arch = "resnet_small";
  eo.in_channels = 1;
  eo.width = 32;
  auto rs = nn::make_encoder(eo);
  rs->eval();
  const int64_t small_convs = 9 * (1 * 32 + 2 * 32 * 32 + 32 * 64 + 64 * 64 + 64 * 128 + 128 * 128) + 32 * 64 + 64 * 128;
  const int64_t small_norms = 2 * (32 + 2 * 32 + 3 * 64 + 3 * 128);
  EXPECT_EQ(parameter_count(*rs), small_convs + small_norms);
  EXPECT_EQ(rs->output_dim(), 128);
  auto xs = torch::randn({2, 1, 28, 28});
  EXPECT_EQ(rs->forward(xs).sizes(), (std::vector<int64_t>{2, 128}));
  auto bs = rs->forward_blocks(xs);
  ASSERT_EQ(bs.size(), 4u);  // stem, layer1..3
  EXPECT_EQ(bs[1].second.size(1), 32);
  EXPECT_TRUE(torch::allclose(bs.back().second, rs->forward(xs)));

  // cnn2d, width 32, one input channel: 3x3 convs without bias 1->32, 2 x 32->32 (block), 32->64,
  // 2 x 64->64, 64->128, 2 x 128->128, and 9 BatchNorms (weight + bias) of 32, 32, 32, 64, ..., 128.
  eo.arch = "cnn2d";
  eo.in_channels = 1;
  eo.width = 32;
  auto c2 = nn::make_encoder(eo);
  c2->eval();
  const int64_t convs = 9 * (1 * 32 + 2 * 32 * 32 + 32 * 64 + 2 * 64 * 64 + 64 * 128 + 2 * 128 * 128);
  EXPECT_EQ(parameter_count(*c2), convs + 2 * 3 * (32 + 64 + 128));
  EXPECT_EQ(c2->output_dim(), 128);
  // Fully convolutional with global pooling: any (t, x) size, including odd ones.
  for (auto shape : {std::vector<int64_t>{2, 1, 32, 128}, std::vector<int64_t>{2, 1, 32, 256}, std::vector<int64_t>{1, 1, 9, 17}}) {
    auto xi = torch::randn(shape);
    EXPECT_EQ(c2->forward(xi).sizes(), (std::vector<int64_t>{shape[0], 128}));
    auto b2 = c2->forward_blocks(xi);
    ASSERT_EQ(b2.size(), 3u);
    EXPECT_EQ(b2[0].second.size(1), 32);
    EXPECT_TRUE(torch::allclose(b2.back().second, c2->forward(xi)));
  }
  eo.arch = "vit";
  EXPECT_THROW(nn::make_encoder(eo), std::invalid_argument);
}

TEST(Modules, ChannelsLastGivesTheSameForwardBackwardAndCheckpoint) {
  // Two copies of resnet_small with the same weights, one converted to NHWC: in training mode (batch
  // statistics) their outputs and every parameter's gradient agree to float rounding; the converted one
  // really is NHWC; its state_dict is contiguous and equals the NCHW one's, so checkpoints do not change.
  nn::EncoderOptions eo;
  eo.arch = "resnet_small";
  eo.in_channels = 1;
  eo.width = 8;
  torch::manual_seed(3);
  auto a = nn::make_encoder(eo);
  torch::manual_seed(3);
  auto b = nn::make_encoder(eo);
  nn::to_channels_last(*b);
  int64_t converted = 0;
  for (auto& p : b->parameters())
    if (p.dim() == 4) {
      EXPECT_TRUE(p.is_contiguous(at::MemoryFormat::ChannelsLast));
      EXPECT_EQ(p.suggest_memory_format(), at::MemoryFormat::ChannelsLast);  // the stem and 1x1 kernels too
      if (p.size(1) > 1 && p.size(2) > 1) EXPECT_FALSE(p.is_contiguous());  // (1-channel and 1x1 kernels are both)
      EXPECT_TRUE(p.requires_grad());
      ++converted;
    }
  EXPECT_EQ(converted, 9);  // stem, 3 blocks x 2, 2 shortcuts
  auto x = torch::randn({6, 1, 28, 28});
  auto ya = a->forward(x), yb = b->forward(x);
  EXPECT_LT((ya - yb).abs().max().item<double>(), 1e-5 * (1 + ya.abs().max().item<double>()));
  (ya * torch::arange(ya.numel()).view_as(ya)).sum().backward();
  (yb * torch::arange(yb.numel()).view_as(yb)).sum().backward();
  auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    auto ga = pa[i].value().grad(), gb = pb[i].value().grad();
    EXPECT_LT((ga - gb).abs().max().item<double>(), 1e-4 * (1 + ga.abs().max().item<double>())) << pa[i].key();
  }
  const auto sa = jess::train::state_dict(*a), sb = jess::train::state_dict(*b);
  for (const auto& kv : sb) {
    EXPECT_TRUE(kv.second.is_contiguous()) << kv.first;
    // The same weights, exactly; running statistics of the same batch, to float rounding.
    auto va = sa.at(kv.first).to(at::kDouble), vb = kv.second.to(at::kDouble);
    EXPECT_LE((va - vb).abs().max().item<double>(), 1e-6 * (1 + va.abs().max().item<double>())) << kv.first;
    if (kv.first.find("running") == std::string::npos) EXPECT_TRUE(kv.second.equal(sa.at(kv.first))) << kv.first;
  }
}

TEST(Modules, OneChannelInputTakesTheChannelsLastWeightLayout) {
  // A one-channel NCHW batch is NHWC-contiguous too, so contiguous(ChannelsLast) leaves its NCHW strides and
  // the stem convolution would write NCHW. in_weight_layout gives it NHWC strides (same values) when the
  // weight is NHWC, and leaves it alone for an NCHW weight; the stem's output is then NHWC.
  torch::manual_seed(5);
  auto x = torch::randn({4, 1, 9, 7});
  auto w = torch::randn({8, 1, 3, 3});
  auto w_nhwc = at::empty(w.sizes(), w.options().memory_format(at::MemoryFormat::ChannelsLast)).copy_(w);
  ASSERT_EQ(w_nhwc.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  EXPECT_EQ(x.contiguous(at::MemoryFormat::ChannelsLast).suggest_memory_format(), at::MemoryFormat::Contiguous);
  auto y = nn::in_weight_layout(x, w_nhwc);
  EXPECT_EQ(y.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(y.equal(x));
  EXPECT_EQ(nn::in_weight_layout(x, w).data_ptr(), x.data_ptr());  // NCHW weight: untouched
  auto x3 = torch::randn({2, 3, 5, 5});
  auto w3 = torch::randn({4, 3, 3, 3}).contiguous(at::MemoryFormat::ChannelsLast);
  auto y3 = nn::in_weight_layout(x3, w3);
  EXPECT_TRUE(y3.is_contiguous(at::MemoryFormat::ChannelsLast) && !y3.is_contiguous());
  EXPECT_TRUE(y3.equal(x3));
  EXPECT_EQ(nn::in_weight_layout(torch::randn({3, 5}), w3).dim(), 2);  // not an image batch: unchanged
  // The convolution then keeps the layout: its output is NHWC, the values those of the NCHW computation.
  auto out = torch::conv2d(y, w_nhwc, {}, 1, 1);
  EXPECT_EQ(out.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
  EXPECT_TRUE(torch::allclose(out, torch::conv2d(x, w, {}, 1, 1), 1e-5, 1e-5));
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  train::TrainOptions o;
  o.epochs = 10;
  o.lr = 1.0;
  o.schedule = "warmup_cosine";
  o.warmup_epochs = 2;
  o.final_lr_fraction = 0.1;
  const int64_t spe = 5;
  EXPECT_NEAR(train::learning_rate(o, 0, spe), 0.1, 1e-12);   // 1/10 of the warm-up
  EXPECT_NEAR(train::learning_rate(o, 9, spe), 1.0, 1e-12);   // end of warm-up
  EXPECT_NEAR(train::learning_rate(o, 10, spe), 1.0, 1e-12);  // cosine start
  EXPECT_NEAR(train::learning_rate(o, 30, spe), 0.1 + 0.9 * 0.5 * (1 + std::cos(M_PI * 0.5)), 1e-12);
  EXPECT_NEAR(train::learning_rate(o, 50, spe), 0.1, 1e-12);
  o.schedule = "constant";
  EXPECT_EQ(train::learning_rate(o, 33, spe), 1.0);
}

TEST(Schedule, StepDecayAtMilestoneEpochsAsMultiStepLR) {
  train::TrainOptions o;
  o.epochs = 20;
  o.lr = 1e-4;
  o.schedule = "step";
  o.lr_milestones = "0, 5,10";  // LPSDA: [unrolling, 5, 10, 15], gamma 0.4
  o.lr_gamma = 0.4;
  const int64_t spe = 7;
  EXPECT_NEAR(train::learning_rate(o, 0, spe), 0.4e-4, 1e-18);          // milestone 0 applies at once
  EXPECT_NEAR(train::learning_rate(o, 5 * spe - 1, spe), 0.4e-4, 1e-18);  // last step of epoch 4
  EXPECT_NEAR(train::learning_rate(o, 5 * spe, spe), 0.16e-4, 1e-18);     // epoch 5
  EXPECT_NEAR(train::learning_rate(o, 19 * spe, spe), 0.064e-4, 1e-18);
  o.lr_milestones = "5,x";
  EXPECT_THROW(o.validate(), ConfigError);
}

namespace {
// A toy regression whose batches depend only on (epoch, step), with BatchNorm (buffers) and
// weight decay: exact resume must restore parameters, buffers, optimiser moments and data position.
struct ToyNet : torch::nn::Module {
  ToyNet() {
    l1 = register_module("l1", torch::nn::Linear(4, 16));
    bn = register_module("bn", torch::nn::BatchNorm1d(16));
    l2 = register_module("l2", torch::nn::Linear(16, 1));
  }
  torch::Tensor forward(const torch::Tensor& x) { return l2(torch::relu(bn(l1(x)))); }
  torch::nn::Linear l1{nullptr}, l2{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
};

class ToyTask : public train::TrainTask {
 public:
  explicit ToyTask(int64_t nan_at = -1) : nan_at_(nan_at) {
    torch::manual_seed(0);
    net = std::make_shared<ToyNet>();
  }
  torch::nn::Module& model() override { return *net; }
  int64_t steps_per_epoch() const override { return 6; }
  void seek(int64_t epoch, int64_t step) override { pos_ = epoch * 6 + step; }
  train::StepOutput step(int64_t epoch, int64_t step) override {
    EXPECT_EQ(epoch * 6 + step, pos_);
    auto g = torch::Generator(at::detail::createCPUGenerator(uint64_t(1000 + pos_)));
    auto x = torch::randn({16, 4}, g, torch::kFloat);
    auto y = x.sum(1, true).sin();
    auto loss = torch::mse_loss(net->forward(x), y);
    if (pos_ == nan_at_) loss = loss * std::nan("");
    ++pos_;
    return {loss, {{"toy", 1.0}}, 16};
  }
  std::vector<std::pair<std::string, double>> end_of_epoch(int64_t) override {
    return {{"weight_norm", net->l1->weight.norm().item<double>()}};
  }
  std::shared_ptr<ToyNet> net;

 private:
  int64_t pos_ = 0, nan_at_;
};

std::string file_text(const std::string& p) {
  std::ifstream f(p);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
}  // namespace

class TrainerResume : public ::testing::TestWithParam<std::string> {};

TEST_P(TrainerResume, KilledAndResumedRunEndsWithTheSameWeights) {
  train::TrainOptions o;
  o.optimizer = GetParam();
  o.epochs = 3;
  o.lr = 1e-2;
  o.weight_decay = 0.01;
  o.schedule = "warmup_cosine";
  o.warmup_epochs = 1;
  o.checkpoint_every = 4;
  o.log_every = 1;
  o.plots = false;
  const std::string a = temp_dir("full_" + GetParam()), b = temp_dir("resumed_" + GetParam());
  ToyTask full;
  auto r = train::train(full, o, a, "cfg: 1\n");
  EXPECT_TRUE(r.completed);
  EXPECT_EQ(r.global_step, 18);
  // Interrupted after step 10 (the last checkpoint is at step 8), then resumed by a fresh process state.
  {
    ToyTask part;
    train::TrainOptions oi = o;
    oi.stop_after_steps = 10;
    auto ri = train::train(part, oi, b, "cfg: 1\n");
    EXPECT_FALSE(ri.completed);
  }
  ToyTask resumed;
  auto rr = train::train(resumed, o, b, "cfg: 1\n");
  EXPECT_TRUE(rr.resumed);
  EXPECT_TRUE(rr.completed);
  auto sa = train::state_dict(*full.net), sb = train::state_dict(*resumed.net);
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& kv : sa) EXPECT_TRUE(torch::equal(kv.second, sb.at(kv.first))) << kv.first;
  // The logs were cut back to the checkpoint: same rows (the throughput column aside).
  auto rows = [](const std::string& p) {
    std::ifstream f(p);
    std::string line, out;
    while (std::getline(f, line)) out += line.substr(0, line.rfind(',')) + "\n";
    return out;
  };
  EXPECT_EQ(rows(a + "/steps.csv"), rows(b + "/steps.csv"));
  EXPECT_EQ(rows(a + "/epochs.csv"), rows(b + "/epochs.csv"));
  // The checkpoint reads back: model tensors, position, configuration.
  auto c = train::load_checkpoint(a + "/checkpoint.pt");
  EXPECT_EQ(c.global_step, 18);
  EXPECT_EQ(c.epoch, 3);
  EXPECT_EQ(c.config, "cfg: 1\n");
  EXPECT_TRUE(torch::equal(c.model.at("l1.weight"), full.net->l1->weight));
  EXPECT_TRUE(c.model.count("bn.running_mean"));
  // A different configuration does not silently resume.
  ToyTask other;
  EXPECT_THROW(train::train(other, o, b, "cfg: 2\n"), std::exception);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, TrainerResume, ::testing::Values("adamw", "lars"));

TEST(Trainer, ARunFromAnOlderJessResumesWithTheNewKeysDefaults) {
  train::TrainOptions o;
  o.epochs = 2;
  o.lr = 1e-2;
  o.checkpoint_every = 2;
  o.plots = false;
  const std::string old_cfg = "a: 1\ntrain:\n  epochs: 2\n  gone: 5\n";
  const std::string new_cfg = "a: 1\nadded: x\ntrain:\n  epochs: 2\n";
  const std::string dir = temp_dir("upgrade");
  {
    ToyTask t;
    train::TrainOptions oi = o;
    oi.stop_after_steps = 3;
    train::train(t, oi, dir, old_cfg);
  }
  // Keys added and removed since: resumes, says so, and the checkpoint now stores the new configuration.
  testing::internal::CaptureStderr();
  ToyTask t2;
  auto r = train::train(t2, o, dir, new_cfg);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(r.resumed);
  EXPECT_TRUE(r.completed);
  EXPECT_NE(err.find("lacks 'added' (added since it was written): using added: x"), std::string::npos) << err;
  EXPECT_NE(err.find("'train.gone' (5) is no longer a configuration key"), std::string::npos) << err;
  EXPECT_EQ(train::load_checkpoint(dir + "/checkpoint.pt").config, new_cfg);
  // A changed value is refused, naming it; extending train.epochs is allowed and said.
  ToyTask t3;
  try {
    train::train(t3, o, dir, "a: 2\nadded: x\ntrain:\n  epochs: 2\n");
    ADD_FAILURE() << "a changed key resumed";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'a' was 1, now 2"), std::string::npos) << e.what();
  }
  ToyTask t4;
  train::TrainOptions longer = o;
  longer.epochs = 3;
  testing::internal::CaptureStderr();
  auto r4 = train::train(t4, longer, dir, "a: 1\nadded: x\ntrain:\n  epochs: 3\n");
  const std::string err4 = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(r4.resumed);
  EXPECT_EQ(r4.global_step, 3 * t4.steps_per_epoch());
  EXPECT_NE(err4.find("train.epochs extended from 2 to 3"), std::string::npos) << err4;
  ToyTask t5;
  EXPECT_THROW(train::train(t5, o, dir, "a: 1\nadded: x\ntrain:\n  epochs: 2\n"), std::exception);  // shrinking
}

// A one-epoch toy run in temp_dir(name): its directory and its checkpoint's bytes.
std::pair<std::string, std::vector<char>> toy_checkpoint(const std::string& name) {
  train::TrainOptions o;
  o.epochs = 1;
  o.plots = false;
  const std::string dir = temp_dir(name);
  ToyTask t;
  train::train(t, o, dir, "cfg: 1\n");
  std::ifstream f(dir + "/checkpoint.pt", std::ios::binary);
  return {dir, std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>())};
}

TEST(Trainer, ACheckpointFromANewerFormatIsAClearError) {
  const auto [dir, bytes] = toy_checkpoint("format");
  // Rewrite the checkpoint with a format version from the future.
  auto v = torch::pickle_load(bytes).toGenericDict();
  v.insert_or_assign("format", int64_t(99));
  train::write_file_atomic(dir + "/checkpoint.pt", torch::pickle_save(c10::IValue(v)));
  try {
    train::load_checkpoint(dir + "/checkpoint.pt");
    ADD_FAILURE() << "a newer format was read";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("written by a newer jess (checkpoint format 99"), std::string::npos) << e.what();
  }
}

TEST(Trainer, DamagedCheckpointsAreClearErrors) {
  const std::vector<char> good = toy_checkpoint("damaged").second;
  const auto message = [](const std::vector<char>& bytes) {
    try {
      train::parse_checkpoint(bytes, "x.pt");
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("(read)");
  };
  EXPECT_EQ(message(good), "(read)");
  // The zip's directory alone (its tail): every entry points before the start of the bytes that remain,
  // past their end once offsets are taken from the start. LibTorch's own pickle_load read out of bounds
  // here (fuzz/fuzz_checkpoint); jess's bounded reader makes it an error.
  const std::vector<char> tail(good.end() - 600, good.end());
  EXPECT_NE(message(tail).find("'x.pt' is not a readable jess checkpoint"), std::string::npos) << message(tail);
  const std::vector<char> truncated(good.begin(), good.begin() + good.size() / 2);
  EXPECT_NE(message(truncated).find("is not a readable jess checkpoint"), std::string::npos);
  // A valid pickle of the wrong shape: each field's type is checked before use.
  auto v = torch::pickle_load(good).toGenericDict();
  v.insert_or_assign("epoch", std::string("three"));
  EXPECT_NE(message(torch::pickle_save(c10::IValue(v))).find("'epoch' is not an integer"), std::string::npos);
  v = torch::pickle_load(good).toGenericDict();
  v.insert_or_assign("model", int64_t(1));
  EXPECT_NE(message(torch::pickle_save(c10::IValue(v))).find("'model' is not a dictionary of tensors"), std::string::npos);
  v = torch::pickle_load(good).toGenericDict();
  (void)v.erase("config");
  EXPECT_NE(message(torch::pickle_save(c10::IValue(v))).find("no 'config'"), std::string::npos);
  // A string whose declared length (the BINUNICODE opcode's) is 2 GB in a small file: LibTorch's
  // unpickler reserved that much before reading (fuzz/fuzz_checkpoint, an out-of-memory in CI); jess
  // checks every declared length against the bytes left first.
  const std::string key = std::string("X\x06\0\0\0", 5) + "config";
  std::vector<char> huge = good;
  auto at = std::search(huge.begin(), huge.end(), key.begin(), key.end());
  ASSERT_NE(at, huge.end());
  at[1] = '\xf0', at[2] = '\xff', at[3] = '\xff', at[4] = '\x7f';
  EXPECT_NE(message(huge).find("declares a 2147483632-byte value"), std::string::npos) << message(huge);
  // The memo: the unpickler resized its table to a PUT's index (64 GB for a 4-byte one) and a GET may
  // name an entry never stored. Here the key's BINPUT becomes a BINGET of entry 255, not yet stored.
  std::vector<char> memo = good;
  at = std::search(memo.begin(), memo.end(), key.begin(), key.end());
  ASSERT_EQ(at[int(key.size())], 'q');
  at[int(key.size())] = 'h', at[int(key.size()) + 1] = '\xff';
  EXPECT_NE(message(memo).find("reads memo entry 255 of"), std::string::npos) << message(memo);
  at[int(key.size())] = 'r';  // a LONG_BINPUT: 4 bytes of index from here
  EXPECT_NE(message(memo).find("stores memo entry"), std::string::npos) << message(memo);
  // The zip directory: LibTorch allocated (and the reader zero-filled) a record's declared size before
  // extracting it. The first directory entry declares 2 GB, then a compressed record.
  // (The optimiser's state is itself a torch archive inside the checkpoint: the outer directory is found
  // from the end-of-directory record at the end of the file.)
  const std::string end_sig("PK\x05\x06", 4);
  std::vector<char> zip = good;
  const auto eocd = std::find_end(zip.begin(), zip.end(), end_sig.begin(), end_sig.end());
  ASSERT_NE(eocd, zip.end());
  uint32_t dir = 0;
  for (int i = 0; i < 4; ++i) dir |= uint32_t(static_cast<unsigned char>(eocd[16 + i])) << (8 * i);
  auto entry = zip.begin() + dir;
  ASSERT_EQ(std::string(entry, entry + 4), std::string("PK\x01\x02", 4));
  entry[24] = '\xf0', entry[25] = '\xff', entry[26] = '\xff', entry[27] = '\x7f';
  EXPECT_NE(message(zip).find("two different sizes"), std::string::npos) << message(zip);
  entry[20] = '\xf0', entry[21] = '\xff', entry[22] = '\xff', entry[23] = '\x7f';
  EXPECT_NE(message(zip).find("larger than the file"), std::string::npos) << message(zip);
  zip = good;
  entry = zip.begin() + dir;
  entry[10] = 8;  // deflate
  EXPECT_NE(message(zip).find("compressed zip entry"), std::string::npos) << message(zip);
  // Inputs found by 10-minute campaigns of fuzz/fuzz_checkpoint (kept in its corpus): a tensor over an empty
  // storage record (reading it crashed) and a record declaring gigabytes.
  const std::string corpus = std::string(JESS_SOURCE_DIR) + "/fuzz/corpus/checkpoint/";
  const auto file_message = [&](const std::string& name) { return message(train::read_checkpoint_bytes(corpus + name)); };
  EXPECT_NE(file_message("regression_tensor_outside_storage.pt").find("lies outside its storage"), std::string::npos)
      << file_message("regression_tensor_outside_storage.pt");
  EXPECT_NE(file_message("regression_record_size_gigabytes.pt").find("zip64"), std::string::npos)
      << file_message("regression_record_size_gigabytes.pt");
}

TEST(Trainer, ASecondWriterOfTheSameRunDirectoryIsRefused) {
  train::TrainOptions o;
  o.epochs = 1;
  o.plots = false;
  const std::string dir = temp_dir("locked");
  jess::make_directories(dir);
  {
    jess::DirectoryLock held(dir);  // as another process training into it
    ToyTask t;
    try {
      train::train(t, o, dir, "cfg: 1\n");
      ADD_FAILURE() << "trained into a locked directory";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find("another jess process (pid " + std::to_string(getpid()) + ") is writing"),
                std::string::npos) << e.what();
    }
    EXPECT_FALSE(jess::file_exists(dir + "/checkpoint.pt"));
  }
  ToyTask t2;  // released: the run goes ahead
  EXPECT_TRUE(train::train(t2, o, dir, "cfg: 1\n").completed);
}

TEST(Trainer, ClaimingARunDirectoryRemovesTheTemporariesOfKilledWriters) {
  const std::string dir = temp_dir("stale_tmp");
  jess::make_directories(dir);
  const pid_t child = ::fork();  // a process that has exited: the writer a kill -9 interrupted
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  const std::string dead = dir + "/steps.csv.tmp." + std::to_string(child);
  const std::string mine = dir + "/eval.json.tmp." + std::to_string(::getpid());     // a live writer's
  const std::string parent = dir + "/epochs.csv.tmp." + std::to_string(::getppid());  // another live process's
  const std::string not_ours = dir + "/notes.tmp.draft";
  for (const auto& f : {dead, mine, parent, not_ours}) jess::write_text_atomic(f, "x");
  jess::write_text_atomic(dir + "/steps.csv", "kept\n");
  {
    jess::DirectoryLock claim(dir);
    EXPECT_FALSE(jess::file_exists(dead));
    EXPECT_TRUE(jess::file_exists(mine));
    EXPECT_TRUE(jess::file_exists(parent));
    EXPECT_TRUE(jess::file_exists(not_ours));
    EXPECT_TRUE(jess::file_exists(dir + "/steps.csv"));
  }
  EXPECT_EQ(jess::remove_stale_temporaries(dir), 0);  // nothing stale is left
}

TEST(Trainer, NanLossStopsAndKeepsTheLastGoodCheckpoint) {
  train::TrainOptions o;
  o.epochs = 3;
  o.checkpoint_every = 5;
  o.plots = false;
  const std::string d = temp_dir("nan");
  ToyTask t(/*nan_at=*/12);
  try {
    train::train(t, o, d, "cfg\n");
    FAIL() << "expected TrainingDiverged";
  } catch (const train::TrainingDiverged& e) {
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("checkpoint"), std::string::npos);
  }
  auto c = train::load_checkpoint(d + "/checkpoint.pt");
  EXPECT_EQ(c.global_step, 12);  // the last checkpoint (epoch 2's end) before the NaN at step 13
  for (const auto& kv : c.model) EXPECT_TRUE(torch::isfinite(kv.second).all().item<bool>()) << kv.first;
  // A truncated checkpoint is a clear error, not a crash.
  {
    std::string bytes = file_text(d + "/checkpoint.pt");
    std::ofstream(d + "/bad.pt", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  EXPECT_THROW(train::load_checkpoint(d + "/bad.pt"), std::invalid_argument);
}

// ---------------------------------------------------------------- the other joint-embedding criteria

namespace {
std::unique_ptr<ssl::JointLoss> loss_with(const std::string& name, const std::vector<std::string>& overrides = {}) {
  auto l = ssl::make_loss(name);
  ConfigSchema s;
  l->describe(s, "");
  s.apply_overrides(overrides);
  return l;
}

// InfoNCE family by loops (cosine similarities over the 2B samples).
double infonce_by_hand(const at::Tensor& z1, const at::Tensor& z2, double tau, const std::string& variant) {
  auto z = torch::cat({z1, z2}).to(torch::kDouble);
  const int64_t m = z.size(0), n = m / 2;
  double total = 0;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = i < n ? i + n : i - n;
    auto cosine = [&](int64_t a, int64_t b) {
      return (z[a] * z[b]).sum().item<double>() / (z[a].norm().item<double>() * z[b].norm().item<double>());
    };
    double denominator = variant == "dcl" ? 0 : std::exp(cosine(i, p) / tau);
    for (int64_t k = 0; k < m; ++k) {
      if (k == i || k == p) continue;
      double s = cosine(i, k);
      if (variant == "simclr_abs") s = std::abs(s);
      if (variant == "simclr_sq") s = s * s;
      denominator += std::exp(s / tau);
    }
    total += -cosine(i, p) / tau + std::log(denominator);
  }
  return total / double(m);
}
}  // namespace

TEST(Criteria, InfoNceFamilyEqualsHandValues) {
  const double tau = 0.5;
  // Orthogonal samples, identical views: every negative cosine is 0.
  auto e = torch::tensor({{1.0, 0.0}, {0.0, 1.0}}, torch::kDouble);
  EXPECT_NEAR(loss_with("simclr", {"temperature=0.5"})->operator()(e, e).loss.item<double>(),
              std::log(1 + 2 * std::exp(-1 / tau)), 1e-12);
  // Opposite samples (cosine -1 between them): raw, |.|, (.)^2 and decoupled negatives differ.
  auto a = torch::tensor({{1.0, 0.0}, {-1.0, 0.0}}, torch::kDouble), b = torch::tensor({{2.0, 0.0}, {-3.0, 0.0}}, torch::kDouble);
  EXPECT_NEAR(loss_with("simclr", {"temperature=0.5"})->operator()(a, b).loss.item<double>(), std::log(1 + 2 * std::exp(-2 / tau)), 1e-12);
  EXPECT_NEAR(loss_with("simclr_abs", {"temperature=0.5"})->operator()(a, b).loss.item<double>(), std::log(3.0), 1e-12);
  EXPECT_NEAR(loss_with("simclr_sq", {"temperature=0.5"})->operator()(a, b).loss.item<double>(), std::log(3.0), 1e-12);
  EXPECT_NEAR(loss_with("dcl", {"temperature=0.5"})->operator()(a, b).loss.item<double>(), std::log(2.0) - 2 / tau, 1e-12);
  torch::manual_seed(11);
  auto x = torch::randn({6, 4}, torch::kDouble), y = x + 0.3 * torch::randn({6, 4}, torch::kDouble);
  for (const char* v : {"simclr", "simclr_abs", "simclr_sq", "dcl"})
    EXPECT_NEAR(loss_with(v, {"temperature=0.2"})->operator()(x, y).loss.item<double>(), infonce_by_hand(x, y, 0.2, v), 1e-10) << v;
}

TEST(Criteria, BarlowTwinsEqualsHandValues) {
  // Standardised, uncorrelated columns: C = I / (1 + eps) for identical views, -I / (1 + eps) for opposite.
  auto z = torch::tensor({{1.0, 1.0}, {1.0, -1.0}, {-1.0, 1.0}, {-1.0, -1.0}}, torch::kDouble);
  const double c = 1 / (1 + 1e-5);
  auto bt = loss_with("barlow_twins");
  EXPECT_NEAR(bt->operator()(z, z).loss.item<double>(), 2 * (1 - c) * (1 - c), 1e-14);
  EXPECT_NEAR(bt->operator()(z, -z).loss.item<double>(), 2 * (1 + c) * (1 + c), 1e-12);
  // General case against a loop over the cross-correlation entries.
  torch::manual_seed(12);
  auto x = torch::randn({8, 3}, torch::kDouble), y = torch::randn({8, 3}, torch::kDouble);
  auto std_ = [](const at::Tensor& t) {
    auto cc = t - t.mean(0, true);
    return cc / torch::sqrt(cc.pow(2).mean(0, true) + 1e-5);
  };
  auto xs = std_(x), ys = std_(y);
  double expected = 0;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) {
      double cij = 0;
      for (int k = 0; k < 8; ++k) cij += xs[k][i].item<double>() * ys[k][j].item<double>() / 8;
      expected += i == j ? (1 - cij) * (1 - cij) : 0.02 * cij * cij;
    }
  EXPECT_NEAR(loss_with("barlow_twins", {"off_diagonal=0.02"})->operator()(x, y).loss.item<double>(), expected, 1e-12);
}

TEST(Criteria, VICRegExpAndCtrEqualTheirLoops) {
  torch::manual_seed(13);
  auto x = torch::randn({6, 4}, torch::kDouble), y = torch::randn({6, 4}, torch::kDouble);
  const double tau = 0.3, eps = 1e-4;
  auto by_hand = [&](bool transposed) {
    auto terms = [&](at::Tensor z, double& var, double& cov) {
      if (transposed) z = z.t();
      const int64_t b = z.size(0), d = z.size(1);
      auto zc = z - z.mean(0, true);
      for (int64_t j = 0; j < d; ++j) {
        const double v = (zc.select(1, j).pow(2).sum().item<double>()) / double(b - 1);
        var += std::max(0.0, 1 - std::sqrt(v + eps)) / double(d);
      }
      for (int64_t i = 0; i < d; ++i) {
        double s = 0;
        for (int64_t j = 0; j < d; ++j)
          if (j != i) s += std::exp((zc.select(1, i) * zc.select(1, j)).sum().item<double>() / double(b - 1) / tau);
        cov += std::log(s) / double(d);
      }
    };
    double v1 = 0, v2 = 0, c1 = 0, c2 = 0;
    terms(x, v1, c1);
    terms(y, v2, c2);
    const double inv = (x - y).pow(2).mean().item<double>();
    return 2 * inv + 3 * (v1 + v2) / 2 + 0.5 * (c1 + c2);
  };
  const std::vector<std::string> o = {"invariance=2", "variance=3", "covariance=0.5", "temperature=0.3"};
  EXPECT_NEAR(loss_with("vicreg_exp", o)->operator()(x, y).loss.item<double>(), by_hand(false), 1e-10);
  EXPECT_NEAR(loss_with("vicreg_ctr", o)->operator()(x, y).loss.item<double>(), by_hand(true), 1e-10);
}

// Theorem 3.3 of the duality paper: L_nc + sum_j ||K_j,.||^4 = L_c + sum_i ||K_.,i||^4 (K = Z^T).
TEST(Criteria, DualityIdentityHolds) {
  auto z = torch::tensor({{1.0, 2.0}, {3.0, 4.0}}, torch::kDouble);  // by hand: L_c = 2 * 11^2, L_nc = 2 * 14^2
  EXPECT_DOUBLE_EQ(ssl::sample_contrastive_criterion(z).item<double>(), 242.0);
  EXPECT_DOUBLE_EQ(ssl::dimension_contrastive_criterion(z).item<double>(), 392.0);
  for (int64_t seed : {1, 2, 3}) {
    torch::manual_seed(uint64_t(seed));
    auto k = torch::randn({9 + seed, 5 * seed}, torch::kDouble);
    const double lhs = (ssl::dimension_contrastive_criterion(k) + k.pow(2).sum(0).pow(2).sum()).item<double>();
    const double rhs = (ssl::sample_contrastive_criterion(k) + k.pow(2).sum(1).pow(2).sum()).item<double>();
    EXPECT_NEAR(lhs, rhs, 1e-9 * std::abs(rhs)) << seed;
  }
}

TEST(Criteria, ByolAndSimSiamStopTheTargetGradient) {
  auto p = torch::tensor({{1.0, 0.0}, {1.0, 1.0}}, torch::kDouble).requires_grad_(true);
  auto t = torch::tensor({{0.0, 1.0}, {2.0, 2.0}}, torch::kDouble).requires_grad_(true);
  EXPECT_NEAR(ssl::byol_criterion(p, t).item<double>(), (2.0 + 0.0) / 2, 1e-12);     // 2 - 2 cos: 2 and 0
  EXPECT_NEAR(ssl::simsiam_criterion(p, t).item<double>(), -(0.0 + 1.0) / 2, 1e-12);  // -cos: 0 and -1
  ssl::byol_criterion(p, t).backward();
  EXPECT_TRUE(p.grad().defined());
  EXPECT_FALSE(t.grad().defined());
}

TEST(Criteria, EveryRegisteredLossHasFiniteDifferenceGradients) {
  torch::manual_seed(14);
  for (const auto& name : ssl::loss_names()) {
    auto loss = ssl::make_loss(name);
    EXPECT_EQ(loss->name(), name);
    auto a = torch::randn({5, 3}, torch::kDouble) * 0.7, b = torch::randn({5, 3}, torch::kDouble) * 0.7;
    expect_finite_difference_gradients(*loss, a, b, 2e-6, name);
  }
}

// ---------------------------------------------------------------- LARS

TEST(Lars, OneStepEqualsTheHandValueAndExcludesBiases) {
  auto w = torch::tensor({{3.0, 4.0}}, torch::kDouble).requires_grad_(true);  // |w| = 5
  auto b = torch::tensor({1.0}, torch::kDouble).requires_grad_(true);
  auto z = torch::zeros({1, 2}, torch::kDouble).requires_grad_(true);          // zero norm: trust ratio 1
  optim::LarsOptions o(1.0);
  o.momentum(0.9).weight_decay(0.1).eta(0.001);
  optim::Lars opt(optim::lars_groups({w, b, z}, o), o);
  auto set_grads = [&] {
    w.mutable_grad() = torch::tensor({{0.6, 0.8}}, torch::kDouble);
    b.mutable_grad() = torch::tensor({0.5}, torch::kDouble);
    z.mutable_grad() = torch::tensor({{0.1, 0.2}}, torch::kDouble);
  };
  set_grads();
  opt.step();
  // w: g + 0.1 w = (0.9, 1.2), |.| = 1.5, q = 0.001 * 5 / 1.5; m = q g'; w -= m
  const double q = 0.001 * 5 / 1.5;
  EXPECT_NEAR(w[0][0].item<double>(), 3 - q * 0.9, 1e-15);
  EXPECT_NEAR(w[0][1].item<double>(), 4 - q * 1.2, 1e-15);
  EXPECT_NEAR(b[0].item<double>(), 0.5, 1e-15);  // no decay, no trust ratio
  EXPECT_NEAR(z[0][1].item<double>(), -0.2, 1e-15);
  // Second step: momentum 0.9 m1 + q2 g2'.
  const double w0 = w[0][0].item<double>(), w1 = w[0][1].item<double>();
  set_grads();
  opt.step();
  const double g0 = 0.6 + 0.1 * w0, g1 = 0.8 + 0.1 * w1;
  const double q2 = 0.001 * std::sqrt(w0 * w0 + w1 * w1) / std::sqrt(g0 * g0 + g1 * g1);
  EXPECT_NEAR(w[0][0].item<double>(), w0 - (0.9 * q * 0.9 + q2 * g0), 1e-14);
  EXPECT_NEAR(b[0].item<double>(), 0.5 - (0.9 * 0.5 + 0.5), 1e-14);
}

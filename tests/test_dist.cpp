// Data-parallel training on c10d (dist.h): two ranks on loopback against one process with the whole
// batch. The parent test starts ranks as child processes of this test binary (the DistWorker.Run test,
// selected by JESS_DIST_WORKER) and compares what they write with a one-process computation.
#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jess/core/npy.h"
#include "jess/core/rng.h"
#include "jess/dist/dist.h"
#include "jess/dist/grad_sync.h"
#include "jess/nn/batch_norm.h"
#include "jess/ssl/criteria.h"
#include "jess/ssl/loss.h"
#include "jess/train/trainer.h"

namespace fs = std::filesystem;
namespace dist = jess::dist;

namespace {

int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// Starts `world` ranks of this binary running worker case `name` into `dir`; returns each rank's exit status.
std::vector<int> run_ranks(const std::string& name, int world, const std::string& dir,
                           const std::map<std::string, std::string>& env = {}) {
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("JESS_DIST_WORKER", name.c_str(), 1);
      setenv("JESS_DIST_DIR", dir.c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
      setenv("JESS_DIST_TIMEOUT", "20", 0);
      for (const auto& kv : env) setenv(kv.first.c_str(), kv.second.c_str(), 1);
      const std::string filter = "--gtest_filter=DistWorker.Run";
      char exe[4096];
      const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
      exe[n > 0 ? n : 0] = '\0';
      char* args[] = {exe, const_cast<char*>(filter.c_str()), nullptr};
      execv(exe, args);
      _exit(127);
    }
    pids.push_back(pid);
  }
  std::vector<int> status;
  for (pid_t p : pids) {
    int s = 0;
    waitpid(p, &s, 0);
    status.push_back(WIFEXITED(s) ? WEXITSTATUS(s) : 128 + WTERMSIG(s));
  }
  return status;
}

std::string temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("jess_dist_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

void save(const std::string& path, const at::Tensor& t) {
  auto c = t.detach().to(at::kDouble).contiguous();
  std::vector<int64_t> shape(c.sizes().begin(), c.sizes().end());
  if (shape.empty()) shape.push_back(1);
  jess::write_npy(path, c.data_ptr<double>(), shape);
}

at::Tensor load(const std::string& path) {
  auto a = jess::read_npy(path);
  auto t = at::empty(a.shape, at::kDouble);
  std::copy(a.data.begin(), a.data.end(), t.data_ptr<double>());
  return t;
}

at::Tensor fixed(int64_t rows, int64_t cols, uint64_t seed) {  // the same numbers in every process
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({rows, cols}, gen, at::TensorOptions().dtype(at::kDouble));
}

// ---- the case every test shares: a toy joint-embedding task on the shared trainer ---------------------

// A 2-layer MLP with BatchNorm embedding two noisy views of fixed points; the loss is a registered
// criterion (with the gather hook) or BYOL's (predictor + EMA teacher). Float64 throughout.
class ToyTask : public jess::train::TrainTask {
 public:
  ToyTask(const std::string& method, int64_t batch) : method_(method), batch_(batch) {
    at::manual_seed(5);  // the same initial weights in every process (rank 0's are broadcast anyway)
    auto make = [] {
      torch::nn::Sequential m(torch::nn::Linear(6, 16), jess::nn::BatchNorm(16), torch::nn::ReLU(), torch::nn::Linear(16, 8));
      m->to(at::kDouble);
      return m;
    };
    holder_ = std::make_shared<Holder>();
    holder_->online = holder_->register_module("online", make());
    if (method == "byol") {
      holder_->predictor = holder_->register_module("predictor", torch::nn::Sequential(torch::nn::Linear(8, 8)));
      holder_->predictor->to(at::kDouble);
      holder_->teacher = holder_->register_module("teacher", make());
      for (auto& p : holder_->teacher->parameters()) p.set_requires_grad(false);
      copy_teacher(1.0);
    } else {
      loss_ = jess::ssl::make_loss(method);
      if (dist::active()) loss_->set_gather([](const at::Tensor& z) { return dist::all_gather_with_grad(z); });
    }
    x_ = fixed(64, 6, 1), n1_ = fixed(64, 6, 2) * 0.1, n2_ = fixed(64, 6, 3) * 0.1;
  }
  torch::nn::Module& model() override { return *holder_; }
  int64_t steps_per_epoch() const override { return 64 / batch_; }
  void seek(int64_t, int64_t) override {}
  jess::train::StepOutput step(int64_t epoch, int64_t step) override {
    const int64_t g = epoch * steps_per_epoch() + step;
    if (method_ == "byol" && g > 0) copy_teacher(0.01);
    auto perm = jess::seeded_permutation(64, 7, 1, uint64_t(epoch));
    const auto sh = dist::shard_of(batch_);
    std::vector<int64_t> idx(perm.begin() + step * batch_ + sh.begin, perm.begin() + step * batch_ + sh.end);
    auto i = at::tensor(idx, at::kLong);
    auto v1 = x_.index_select(0, i) + n1_.index_select(0, i), v2 = x_.index_select(0, i) + n2_.index_select(0, i);
    auto z1 = holder_->online->forward(v1), z2 = holder_->online->forward(v2);
    at::Tensor loss;
    if (method_ == "byol") {
      at::Tensor t1, t2;
      {
        torch::NoGradGuard ng;
        t1 = holder_->teacher->forward(v1), t2 = holder_->teacher->forward(v2);
      }
      loss = jess::ssl::byol_criterion(holder_->predictor->forward(z1), t2) + jess::ssl::byol_criterion(holder_->predictor->forward(z2), t1);
    } else {
      loss = (*loss_)(z1, z2).loss;
    }
    return {loss, {}, sh.size()};
  }

 private:
  struct Holder : torch::nn::Module {
    torch::nn::Sequential online{nullptr}, predictor{nullptr}, teacher{nullptr};
  };
  void copy_teacher(double rate) {
    torch::NoGradGuard ng;
    auto src = holder_->online->named_parameters(true);
    auto dst = holder_->teacher->named_parameters(true);
    for (const auto& kv : src) dst[kv.key()].mul_(1 - rate).add_(kv.value(), rate);
  }
  std::string method_;
  int64_t batch_;
  std::shared_ptr<Holder> holder_;
  std::unique_ptr<jess::ssl::JointLoss> loss_;
  at::Tensor x_, n1_, n2_;
};

jess::train::TrainOptions toy_options() {
  jess::train::TrainOptions o;
  o.epochs = 2;
  o.optimizer = "lars";
  o.lr = 0.2;
  o.log_every = 1;
  o.plots = false;
  o.resume = false;
  return o;
}

void train_toy(const std::string& method, int64_t batch, const std::string& out) {
  ToyTask task(method, batch);
  jess::train::train(task, toy_options(), out, "toy " + method + "\n", "toy");
}

std::vector<double> logged_losses(const std::string& dir) {
  std::ifstream in(dir + "/steps.csv");
  std::string line;
  std::getline(in, line);
  std::vector<double> out;
  while (std::getline(in, line)) {
    // global_step,epoch,step,loss,...
    size_t p = 0;
    for (int k = 0; k < 3; ++k) p = line.find(',', p) + 1;
    out.push_back(std::atof(line.c_str() + p));
  }
  return out;
}

// ---- worker cases -----------------------------------------------------------------------------------

void worker(const std::string& name, const std::string& dir) {
  dist::init();
  const int r = dist::rank();
  const std::string me = dir + "/rank" + std::to_string(r) + "_";
  if (name == "gather_grad") {
    auto all = fixed(8, 3, 11);
    auto z = dist::local_rows(all).clone().requires_grad_(true);
    auto g = dist::all_gather_with_grad(z);
    auto f = (g.pow(3) * fixed(8, 3, 12)).sum() + g.sum(0).pow(2).sum();  // rows interact through the sum
    f.backward();
    save(me + "grad.npy", z.grad());
    save(me + "value.npy", f);
  } else if (name == "sync_bn") {
    jess::nn::BatchNorm bn(3);
    bn->to(at::kDouble);
    {
      torch::NoGradGuard ng;
      bn->weight.copy_(at::tensor({1.5, 0.5, 2.0}, at::kDouble));
      bn->bias.copy_(at::tensor({0.1, -0.2, 0.3}, at::kDouble));
    }
    auto x = dist::local_rows(fixed(8, 12, 21).view({8, 3, 4})).clone().requires_grad_(true);
    auto y = bn->forward(x);
    (y * dist::local_rows(fixed(8, 12, 22).view({8, 3, 4}))).sum().backward();
    save(me + "y.npy", y);
    save(me + "xgrad.npy", x.grad());
    auto wg = bn->weight.grad().clone(), bg = bn->bias.grad().clone();
    dist::all_reduce_sum_(wg), dist::all_reduce_sum_(bg);
    save(me + "wgrad.npy", wg);
    save(me + "bgrad.npy", bg);
    save(me + "running.npy", at::cat({bn->running_mean, bn->running_var}));
  } else if (name.rfind("train_", 0) == 0) {
    train_toy(name.substr(6), 16, dir + "/run" + std::to_string(r));
  } else if (name == "broadcast") {
    // Rank-dependent tensors of three dtypes, a 0-dim one (like num_batches_tracked) and a non-contiguous
    // view; after the coalesced broadcast every rank holds rank 0's values.
    auto f = fixed(3, 4, 31) + r, d = fixed(2, 5, 32).to(at::kDouble) * (r + 1);
    auto n = at::full({}, 7 + r, at::kLong), i = at::arange(5, at::kLong) * (r + 2);
    auto big = fixed(6, 6, 33) - r;
    auto view = big.t();  // writes through to `big`
    dist::broadcast_coalesced_({f, n, d, i, view});
    save(me + "f.npy", f), save(me + "d.npy", d), save(me + "n.npy", n.to(at::kDouble).reshape({1}));
    save(me + "i.npy", i.to(at::kDouble)), save(me + "big.npy", big);
  } else if (name == "mismatch") {
    dist::check_same_everywhere("configuration", r == 0 ? "a: 1\nb: 2\n" : "a: 1\nb: 3\n");
  }
  dist::shutdown();
}

}  // namespace

TEST(DistWorker, Run) {
  const char* name = std::getenv("JESS_DIST_WORKER");
  if (!name) GTEST_SKIP() << "runs only as a rank started by the other tests";
  try {
    worker(name, std::getenv("JESS_DIST_DIR"));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "worker error: %s\n", e.what());
    std::_Exit(3);
  }
}

TEST(Dist, OneProcessIsTheIdentity) {
  EXPECT_FALSE(dist::active());
  auto t = fixed(4, 2, 5);
  EXPECT_TRUE(dist::all_gather_with_grad(t).equal(t));
  EXPECT_EQ(dist::shard_of(6).begin, 0);
  EXPECT_EQ(dist::shard_of(6).end, 6);
}

TEST(Dist, GatheredGradientIsTheOneProcessGradient) {
  const auto dir = temp_dir("gather");
  const auto st = run_ranks("gather_grad", 2, dir);
  ASSERT_EQ(st, std::vector<int>({0, 0}));
  auto z = fixed(8, 3, 11).requires_grad_(true);
  auto f = (z.pow(3) * fixed(8, 3, 12)).sum() + z.sum(0).pow(2).sum();
  f.backward();
  // Finite differences of the scalar confirm the one-process gradient itself.
  {
    torch::NoGradGuard ng;
    auto zz = fixed(8, 3, 11);
    auto value = [&](const at::Tensor& a) { return ((a.pow(3) * fixed(8, 3, 12)).sum() + a.sum(0).pow(2).sum()).item<double>(); };
    for (int64_t i : {0, 5}) {
      auto p = zz.clone(), m = zz.clone();
      p[i][1] += 1e-6, m[i][1] -= 1e-6;
      EXPECT_NEAR((value(p) - value(m)) / 2e-6, z.grad()[i][1].item<double>(), 1e-6);
    }
  }
  for (int r = 0; r < 2; ++r) {
    // Each rank's gradient, averaged over ranks as the gradient buckets do, is its rows of the one-process one.
    auto g = load(dir + "/rank" + std::to_string(r) + "_grad.npy") / 2;
    EXPECT_LT((g - z.grad().narrow(0, 4 * r, 4)).abs().max().item<double>(), 1e-12) << "rank " << r;
    EXPECT_NEAR(load(dir + "/rank" + std::to_string(r) + "_value.npy").item<double>(), f.item<double>(), 1e-12);
  }
  fs::remove_all(dir);
}

TEST(Dist, CoalescedBroadcastGivesEveryRankRootsValues) {
  const auto dir = temp_dir("broadcast");
  ASSERT_EQ(run_ranks("broadcast", 2, dir), std::vector<int>({0, 0}));
  const std::map<std::string, at::Tensor> root = {{"f", fixed(3, 4, 31)},
                                                  {"d", fixed(2, 5, 32).to(at::kDouble)},
                                                  {"n", at::full({1}, 7.0, at::kDouble)},
                                                  {"i", (at::arange(5, at::kLong) * 2).to(at::kDouble)},
                                                  {"big", fixed(6, 6, 33)}};
  for (int r = 0; r < 2; ++r)
    for (const auto& kv : root) {
      auto got = load(dir + "/rank" + std::to_string(r) + "_" + kv.first + ".npy").to(at::kDouble);
      EXPECT_TRUE(got.equal(kv.second.to(at::kDouble))) << "rank " << r << " " << kv.first;
    }
  fs::remove_all(dir);
}

TEST(Dist, SyncBatchNormEqualsBatchNormOnTheConcatenatedBatch) {
  const auto dir = temp_dir("bn");
  ASSERT_EQ(run_ranks("sync_bn", 2, dir), std::vector<int>({0, 0}));
  jess::nn::BatchNorm bn(3);
  bn->to(at::kDouble);
  {
    torch::NoGradGuard ng;
    bn->weight.copy_(at::tensor({1.5, 0.5, 2.0}, at::kDouble));
    bn->bias.copy_(at::tensor({0.1, -0.2, 0.3}, at::kDouble));
  }
  auto x = fixed(8, 12, 21).view({8, 3, 4}).clone().requires_grad_(true);
  auto y = bn->forward(x);
  (y * fixed(8, 12, 22).view({8, 3, 4})).sum().backward();
  for (int r = 0; r < 2; ++r) {
    const std::string p = dir + "/rank" + std::to_string(r) + "_";
    EXPECT_LT((load(p + "y.npy") - y.detach().narrow(0, 4 * r, 4)).abs().max().item<double>(), 1e-12);
    EXPECT_LT((load(p + "xgrad.npy") - x.grad().narrow(0, 4 * r, 4)).abs().max().item<double>(), 1e-12);
    EXPECT_LT((load(p + "wgrad.npy") - bn->weight.grad()).abs().max().item<double>(), 1e-12);
    EXPECT_LT((load(p + "bgrad.npy") - bn->bias.grad()).abs().max().item<double>(), 1e-12);
    EXPECT_LT((load(p + "running.npy") - at::cat({bn->running_mean, bn->running_var})).abs().max().item<double>(), 1e-12);
  }
  fs::remove_all(dir);
}

TEST(Dist, TwoRanksTrainLikeOneProcessWithTheWholeBatch) {
  for (const std::string method : {"vicreg", "simclr", "barlow_twins", "byol"}) {
    const auto dir = temp_dir("train_" + method);
    ASSERT_EQ(run_ranks("train_" + method, 2, dir), std::vector<int>({0, 0})) << method;
    train_toy(method, 16, dir + "/single");
    const auto one = logged_losses(dir + "/single"), two = logged_losses(dir + "/run0");
    ASSERT_EQ(one.size(), 8u) << method;
    ASSERT_EQ(two.size(), one.size()) << method;
    for (size_t k = 0; k < one.size(); ++k) EXPECT_NEAR(two[k], one[k], 1e-6 * std::abs(one[k]) + 1e-9) << method << " step " << k;
    // Rank 0 alone writes: rank 1's output directory stays empty.
    EXPECT_TRUE(!fs::exists(dir + "/run1") || fs::is_empty(dir + "/run1")) << method;
    const auto a = jess::train::load_checkpoint(dir + "/single/checkpoint.pt"), b = jess::train::load_checkpoint(dir + "/run0/checkpoint.pt");
    for (const auto& kv : a.model) {
      auto w = b.model.at(kv.first).to(at::kDouble), v = kv.second.to(at::kDouble);
      EXPECT_LT((w - v).abs().max().item<double>(), 1e-6 * (1 + v.abs().max().item<double>())) << method << " " << kv.first;
    }
    fs::remove_all(dir);
  }
}

TEST(Dist, RanksWithDifferentConfigurationsStopWithAClearError) {
  const auto dir = temp_dir("mismatch");
  testing::internal::CaptureStderr();
  const auto st = run_ranks("mismatch", 2, dir);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(st[0], 0);
  EXPECT_NE(st[1], 0);
  EXPECT_NE(err.find("configuration differs from rank 0's (line 2: rank 0 has 'b: 2', rank 1 has 'b: 3')"), std::string::npos) << err;
  EXPECT_NE(err.find("another rank's configuration differs"), std::string::npos) << err;
  fs::remove_all(dir);
}

TEST(Dist, RanksStartedWithDifferentWorldSizesStopWithAClearError) {
  const auto dir = temp_dir("world");
  testing::internal::CaptureStderr();
  // Rank 0 thinks the world has 2 ranks; a second process claims rank 1 of 3.
  const int port = free_port();
  std::vector<pid_t> pids;
  for (int r = 0; r < 2; ++r) {
    const pid_t pid = fork();
    if (pid == 0) {
      setenv("JESS_DIST_WORKER", "gather_grad", 1);
      setenv("JESS_DIST_DIR", dir.c_str(), 1);
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", r == 0 ? "2" : "3", 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("JESS_DIST_TIMEOUT", "5", 1);
      char exe[4096];
      const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
      exe[n > 0 ? n : 0] = '\0';
      std::string filter = "--gtest_filter=DistWorker.Run";
      char* args[] = {exe, filter.data(), nullptr};
      execv(exe, args);
      _exit(127);
    }
    pids.push_back(pid);
  }
  for (pid_t p : pids) {
    int s = 0;
    waitpid(p, &s, 0);
    EXPECT_FALSE(WIFEXITED(s) && WEXITSTATUS(s) == 0);
  }
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("was started with WORLD_SIZE="), std::string::npos) << err;
  fs::remove_all(dir);
}

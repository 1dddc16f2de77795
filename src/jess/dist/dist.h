#pragma once
// Data-parallel training over processes and machines on torch's c10d (ProcessGroupGloo and TCPStore
// here; ProcessGroupNCCL where a CUDA LibTorch has it). torchrun's conventions: RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR, MASTER_PORT in the environment (torchrun, Slurm or by hand), or `jess ...
// --nproc N` (launch.h), which starts N local processes with them set. Without WORLD_SIZE (or with 1)
// everything here is the identity and jess runs in one process exactly as before.
//
// Why a global batch: the losses of every method depend on batch statistics (VICReg's variance and
// covariance, SimCLR's negatives, Barlow Twins' cross-correlation), so each rank computes them on the
// embeddings gathered from all ranks (all_gather_with_grad, the reference code's FullGatherLayer), and
// BatchNorm can use global statistics (nn::BatchNorm with sync on). Gradients are averaged over ranks
// (grad_sync.h), so N ranks x batch B follow one process x batch N B.
//
// Failures: a collective or the rendezvous that waits longer than the timeout, or whose peer died,
// throws dist::Failure naming the ranks that stopped (from a heartbeat every rank keeps in the store).
// Light header.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace jess::dist {

// torchrun's environment, read and checked.
struct LaunchEnv {
  bool present = false;  // WORLD_SIZE is set
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
};
LaunchEnv launch_env();  // std::invalid_argument naming the variable when one is malformed

struct InitOptions {
  double timeout_s = 300;  // rendezvous and every collective; JESS_DIST_TIMEOUT overrides it
};

class Failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Joins the process group described by the environment (a no-op in one process). Rank 0 hosts the
// TCPStore on MASTER_ADDR:MASTER_PORT. Clear errors: a port in use, a rank outside the world, ranks
// started with different WORLD_SIZE, ranks that never arrive (timeout).
void init(const InitOptions& options = {});
// Leaves the group. A clean exit first waits for every rank (rank 0 hosts the store); after an error
// (clean = false) it leaves at once.
void shutdown(bool clean = true);
bool active();    // more than one rank
int rank();
int world_size();
bool is_main();  // rank 0: the only one that writes checkpoints, logs and progress bars
double timeout_s();

// Every rank passes its own text (e.g. the resolved configuration); a rank whose text differs from
// rank 0's throws on every rank, naming it and the first differing line.
void check_same_everywhere(const std::string& what, const std::string& text);

// Collectives on CPU (or, under NCCL, CUDA) tensors; identity in one process.
void all_reduce_sum_(at::Tensor& t);
void broadcast_(at::Tensor& t, int root = 0);
// Every tensor takes root's values, in one broadcast per dtype instead of one per tensor (a model's
// BatchNorm buffers are ~60 small tensors; DDP's broadcast_buffers coalesces them the same way).
void broadcast_coalesced_(const std::vector<at::Tensor>& tensors, int root = 0);
at::Tensor all_gather(const at::Tensor& t);  // (world * rows, ...), rank order; same shape everywhere
void barrier();

// An all-reduce in flight (the gradient buckets overlap it with the backward pass).
class Pending {
 public:
  Pending() = default;
  explicit Pending(std::shared_ptr<void> work) : work_(std::move(work)) {}
  void wait();  // throws dist::Failure
  bool valid() const { return bool(work_); }

 private:
  std::shared_ptr<void> work_;
};
Pending all_reduce_sum_async(at::Tensor& t);

// With autograd: the gathered rows of every rank, whose backward all-reduces the incoming gradient and
// returns this rank's rows (FullGatherLayer); and a sum over ranks whose backward is a sum over ranks.
at::Tensor all_gather_with_grad(const at::Tensor& local);
at::Tensor all_reduce_sum_with_grad(const at::Tensor& t);

// Time this rank spent waiting in collectives and the bytes it sent into them, since the start (the
// communication share of a step; benchmarks).
struct CommStats {
  double seconds = 0;
  double bytes = 0;
};
CommStats comm_stats();

// This rank's rows [begin, end) of a global batch; the batch must divide evenly.
struct Shard {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};
Shard shard_of(int64_t global_batch);
// The rows of this rank of a tensor holding a global batch along dim 0 (a view).
at::Tensor local_rows(const at::Tensor& global);

}  // namespace jess::dist

#pragma once
// The batched view maker for self-supervised training: from an HDF5 split, batches of two
// independently augmented, cropped views per trajectory (Lie point symmetries + crops), produced in a
// background thread so that the training loop never waits for them. Deterministic given the seed:
// the batch at (epoch, step) does not depend on timing or thread count.
#include <ATen/core/Tensor.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "jess/pde/symmetries.h"

namespace jess::pde {

struct ViewBatch {
  at::Tensor view1, view2;  // (B, crop_t, crop_x) float32
  at::Tensor dx1, dt1, dx2, dt2;  // (B,) grid spacing of each view
  at::Tensor index;         // (B,) trajectory indices in the split
  int64_t epoch = 0, step = 0;
  double seconds = 0;       // time the producer spent making this batch
};

struct ViewLoaderOptions {
  AugmentOptions augment;
  int64_t batch = 32;
  uint64_t seed = 0;
  // Batches a background thread makes ahead; 0: next() makes each batch in the caller's thread with every
  // thread. On a CPU model 0 is faster (KdV, ResNet1d-32, batch 64, 2 cores: 1,184-1,248 samples/s against
  // 1,039-1,065 ahead): the background thread's work preempts one thread of the model's OpenMP team, which
  // then waits at every barrier. Ahead (prefetch_for) suits a model on a GPU, where the CPU is otherwise idle.
  int64_t prefetch = 2;
  int64_t start_epoch = 0, start_step = 0;  // first batch produced (resume)
  bool single_view = false;                 // only view1 (supervised training)
  int64_t shard_begin = 0, shard_size = 0;  // data-parallel: this rank's rows of each batch (0: all)
};

// The loader's prefetch for a model on `device`: made ahead for a GPU, by next() for the CPU.
inline int64_t prefetch_for(const at::Device& device) { return device.is_cpu() ? 0 : 2; }

// Loads a split (pde_*, dx, dt, nu) into memory as float32.
GridBatch load_split(const std::string& h5_path, const std::string& split, Equation* equation = nullptr);
// std(u) over a batch of trajectories: the velocity scale that the Galilean strength is relative to.
double velocity_scale(const GridBatch& trajectories);

// Makes the views of one batch (used by the loader and directly by benchmarks).
// first: the rows' offset in the global batch (a data-parallel rank's share draws what those rows draw).
ViewBatch make_views(Equation eq, const GridBatch& trajectories, const AugmentOptions& options, uint64_t seed,
                     uint64_t stream, bool single_view = false, int64_t first = 0);

class PdeViewLoader {
 public:
  PdeViewLoader(GridBatch data, Equation eq, ViewLoaderOptions options);
  ~PdeViewLoader();
  PdeViewLoader(const PdeViewLoader&) = delete;
  PdeViewLoader& operator=(const PdeViewLoader&) = delete;
  ViewBatch next();  // the next batch (made now with prefetch 0, else waits for it); rethrows a producer error
  int64_t steps_per_epoch() const;

 private:
  ViewBatch produce(int64_t epoch, int64_t step);
  void run();
  GridBatch data_;
  Equation eq_;
  ViewLoaderOptions options_;
  std::deque<ViewBatch> queue_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::exception_ptr error_;
  std::thread worker_;
  int64_t next_epoch_ = 0, next_step_ = 0;  // prefetch 0: the batch next() makes
};

// `jess pde augment FILE --show`: a PNG grid of one trajectory, each generator alone at a few
// strengths, and composed views. Returns the written path.
std::string show_augmentations(const std::string& h5_path, const std::string& split, int64_t index,
                               const AugmentOptions& options, uint64_t seed, const std::string& out_path);

}  // namespace jess::pde

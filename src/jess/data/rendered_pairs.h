#pragma once
// Pairs of views of one object with their relative transformation — the input of equivariant SSL
// (SIE, Garrido et al. 2023) — from a rendered dataset: jess's packed dataset.h5, or any folder in
// 3DIEBench's layout (jess's or the real 3DIEBench: {split}_images.npy, {split}_labels.npy,
// <class>/<object>/image_<i>.jpg|png, latent_<i>.npy).
//
// Each batch holds `batch` objects of the split, every object once per epoch in an order drawn from
// (seed, epoch), and two distinct views of each drawn from (seed, epoch, step, slot) — as 3DIEBench's
// loader draws np.random.choice(50, 2, replace=False) — so a batch depends only on (seed, epoch,
// step), never on timing. A background thread prepares up to `prefetch` batches ahead (decode and
// copy); the consumer gets them in order.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace jess::data {

struct RenderedPairOptions {
  std::string path;            // dataset.h5, or a folder holding dataset.h5 or 3DIEBench's split files
  std::string split = "train";  // train or val
  int64_t batch = 64;
  int64_t prefetch = 4;        // batches prepared ahead by the background thread (0: none, synchronous)
  int64_t seed = 0;
  bool drop_last = true;       // an epoch has floor(objects / batch) steps (else the last one is short)
  bool prefer_folder = false;  // a folder with both layouts: read the images, not dataset.h5
  int64_t shard_begin = 0, shard_size = 0;  // data-parallel: this rank's rows of every batch (0: all)
};

struct RenderedPairBatch {
  at::Tensor view1, view2;            // [B, 3, S, S] uint8
  at::Tensor factors1, factors2;      // [B, F] float64: 14 factors (packed) or the 7 latents (folder)
  at::Tensor relative_rotation;       // [B, 4] float32: scipy's (rot_1.inv() * rot_2).as_quat()
  at::Tensor labels;                  // [B] int64 class
  at::Tensor objects;                 // [B] int64 object index within the split
  at::Tensor view_index1, view_index2;  // [B] int64
};

class RenderedPairLoader {
 public:
  explicit RenderedPairLoader(const RenderedPairOptions& options);
  ~RenderedPairLoader();
  RenderedPairLoader(const RenderedPairLoader&) = delete;
  RenderedPairLoader& operator=(const RenderedPairLoader&) = delete;

  int64_t objects() const;          // in the split
  int64_t views() const;            // per object
  int64_t image_size() const;
  int64_t classes() const;
  int64_t steps_per_epoch() const;
  const std::string& source() const;  // "packed" or "folder"

  // The batch of (epoch, step), computed directly (what the background thread calls).
  RenderedPairBatch batch(int64_t epoch, int64_t step) const;
  // Every view of objects [first, first + count) of the split, in view order: images [count, V, 3, S, S]
  // uint8, factors [count, V, F] float64, labels [count] int64 (evaluations over all views).
  struct ObjectViews {
    at::Tensor images, factors, labels;
  };
  ObjectViews object_views(int64_t first, int64_t count) const;
  // The factor count per view (14 packed, 7 for 3DIEBench's latents).
  int64_t factor_count() const;
  // Sequential access with prefetch: start_epoch(e), then next() until it returns false; a resumed
  // run starts at `first_step`.
  void start_epoch(int64_t epoch, int64_t first_step = 0);
  bool next(RenderedPairBatch& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace jess::data

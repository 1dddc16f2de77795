#pragma once
// Gradient averaging over ranks for data-parallel training (dist.h), overlapped with the backward pass
// as DDP's reducer does: the parameters are cut into ~bucket_bytes buckets in reverse order (the order
// backward produces their gradients); a hook on each parameter copies its gradient into its bucket's
// flat buffer, and a bucket whose gradients are all there is all-reduced at once, while backward goes
// on. Buckets launch in a fixed order, so every rank issues the same collectives in the same order.
// A parameter that no rank used in a step keeps the gradient this rank's backward left (undefined, or
// the zeros of zero_grad: what one process would have); one used on some ranks only gets their sum
// over the world size.
// Identity (no hooks, no copies) in one process. Light header.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

namespace jess::dist {

class GradientSync {
 public:
  explicit GradientSync(std::vector<at::Tensor> parameters, int64_t bucket_bytes = 8 << 20);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;
  void begin();   // before backward()
  void finish();  // after backward(): every parameter's .grad() is the average over ranks
  int64_t buckets() const;
  double seconds_waiting() const;  // time spent in finish() waiting for the all-reduces (the exposed part)

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace jess::dist

#include "jess/dist/grad_sync.h"

#include <ATen/ATen.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include "jess/dist/dist.h"

namespace jess::dist {

struct GradientSync::Impl {
  struct Bucket {
    std::vector<size_t> members;  // parameter indices
    std::vector<int64_t> offsets;
    at::Tensor flat;  // the gradients, then one "used" flag per member
    int64_t ready = 0;
    bool launched = false;
    Pending pending;
  };
  std::vector<at::Tensor> params;
  std::vector<size_t> bucket_of, slot_of;
  std::vector<Bucket> buckets;
  std::vector<bool> seen;
  size_t next = 0;  // the next bucket to launch
  double waited = 0;
  bool running = false;

  void launch_ready() {
    while (next < buckets.size() && buckets[next].ready == int64_t(buckets[next].members.size())) launch(buckets[next++]);
  }
  void launch(Bucket& b) {
    b.launched = true;
    b.pending = all_reduce_sum_async(b.flat);
  }
  bool overlap = true;  // JESS_DIST_OVERLAP=0: all buckets after backward (measurements)
  void on_grad(size_t i, const at::Tensor& g) {
    if (!running || seen[i]) return;
    seen[i] = true;
    Bucket& b = buckets[bucket_of[i]];
    const size_t s = slot_of[i];
    const int64_t n = params[i].numel();
    b.flat.narrow(0, b.offsets[s], n).copy_(g.reshape({-1}));
    b.flat[b.offsets.back() + int64_t(s)].fill_(1.0);
    ++b.ready;
    if (overlap) launch_ready();
  }
};

GradientSync::GradientSync(std::vector<at::Tensor> parameters, int64_t bucket_bytes) : impl_(std::make_shared<Impl>()) {
  auto& m = *impl_;
  m.params = std::move(parameters);
  if (!active()) return;
  if (const char* e = std::getenv("JESS_DIST_OVERLAP")) m.overlap = std::string(e) != "0";
  const size_t n = m.params.size();
  m.bucket_of.assign(n, 0);
  m.slot_of.assign(n, 0);
  m.seen.assign(n, false);
  // Reverse order: backward produces the last layers' gradients first.
  std::vector<std::vector<size_t>> groups(1);
  int64_t bytes = 0;
  for (size_t k = n; k-- > 0;) {
    const auto& p = m.params[k];
    const int64_t b = p.numel() * int64_t(p.element_size());
    if (!groups.back().empty() && (bytes + b > bucket_bytes || p.scalar_type() != m.params[groups.back()[0]].scalar_type()))
      groups.emplace_back(), bytes = 0;
    groups.back().push_back(k);
    bytes += b;
  }
  for (const auto& grp : groups) {
    if (grp.empty()) continue;
    Impl::Bucket bk;
    int64_t off = 0;
    for (size_t s = 0; s < grp.size(); ++s) {
      m.bucket_of[grp[s]] = m.buckets.size();
      m.slot_of[grp[s]] = s;
      bk.members.push_back(grp[s]);
      bk.offsets.push_back(off);
      off += m.params[grp[s]].numel();
    }
    bk.offsets.push_back(off);  // the flags start here
    bk.flat = at::zeros({off + int64_t(grp.size())}, m.params[grp[0]].options().requires_grad(false));
    m.buckets.push_back(std::move(bk));
  }
  std::weak_ptr<Impl> weak = impl_;
  for (size_t i = 0; i < n; ++i) {
    if (!m.params[i].requires_grad()) continue;
    m.params[i].register_hook([weak, i](const at::Tensor& g) {
      if (auto s = weak.lock()) s->on_grad(i, g);
    });
  }
}

GradientSync::~GradientSync() {
  if (!impl_) return;
  impl_->running = false;
  try {
    for (auto& b : impl_->buckets) b.pending.wait();
  } catch (...) {
  }
}

void GradientSync::begin() {
  auto& m = *impl_;
  if (m.buckets.empty()) return;
  for (auto& b : m.buckets) {
    b.flat.zero_();
    b.ready = 0;
    b.launched = false;
  }
  std::fill(m.seen.begin(), m.seen.end(), false);
  m.next = 0;
  m.running = true;
}

void GradientSync::finish() {
  auto& m = *impl_;
  if (m.buckets.empty()) return;
  m.running = false;
  const auto t0 = std::chrono::steady_clock::now();
  // Buckets with parameters that got no gradient here (zeros and a zero flag) go now, in order.
  while (m.next < m.buckets.size()) m.launch(m.buckets[m.next++]);
  for (auto& b : m.buckets) b.pending.wait();
  m.waited += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double inv_world = 1.0 / double(world_size());
  for (auto& b : m.buckets) {
    const int64_t count = int64_t(b.members.size());
    const auto flags = b.flat.narrow(0, b.offsets.back(), count).to(at::kCPU, at::kDouble).contiguous();
    const double* used = flags.data_ptr<double>();
    for (int64_t s = 0; s < count; ++s) {
      // No rank used it: its gradient stays what this rank's backward left (as in one process).
      if (used[s] == 0) continue;
      auto& p = m.params[b.members[size_t(s)]];
      const auto sum = b.flat.narrow(0, b.offsets[size_t(s)], p.numel()).view(p.sizes());
      if (p.grad().defined()) p.mutable_grad().copy_(sum).mul_(inv_world);
      else p.mutable_grad() = sum * inv_world;
    }
  }
}

int64_t GradientSync::buckets() const { return int64_t(impl_->buckets.size()); }
double GradientSync::seconds_waiting() const { return impl_->waited; }

}  // namespace jess::dist

#pragma once
// Work sharing on plain std::threads. LibTorch's at::parallel_for is a header template over
// `#pragma omp parallel` and silently runs serially in translation units built without OpenMP (clang
// cannot target libtorch's libgomp), so jess's own hot loops use this instead. Do not call ATen ops
// that parallelise internally from inside `worker`: they would nest thread teams.
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace jess {

// Calls worker(w, next) on `threads` threads (w = 0..threads-1); `next()` hands out indices 0..n-1
// (dynamic scheduling) and returns -1 when none are left. The first exception is rethrown.
inline void parallel_workers(int64_t n, int threads,
                             const std::function<void(int worker, const std::function<int64_t()>& next)>& worker) {
  std::atomic<int64_t> counter{0};
  std::function<int64_t()> next = [&]() -> int64_t {
    int64_t i = counter.fetch_add(1);
    return i < n ? i : -1;
  };
  threads = int(std::max<int64_t>(1, std::min<int64_t>(threads, n)));
  if (threads == 1) {
    worker(0, next);
    return;
  }
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int w) {
    try {
      worker(w, next);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!error) error = std::current_exception();
      counter = n;  // stop handing out work
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < threads; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace jess

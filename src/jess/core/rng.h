#pragma once
// A small counter-seeded generator (SplitMix64) whose draws depend only on (seed, stream, index), so
// that a trajectory's parameters are the same whether it is generated alone, in a batch, or in another
// shard. Header-only and exactly specified (unlike std:: distributions, which differ by library).
#include <cstdint>
#include <utility>
#include <vector>

namespace jess {

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  Rng(uint64_t seed, uint64_t stream, uint64_t index)
      : state_(mix(mix(mix(seed) ^ (stream * 0x9E3779B97F4A7C15ull)) ^ (index + 0xD1B54A32D192ED03ull))) {}

  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Integer in [lo, hi] (inclusive), unbiased by rejection.
  int64_t integer(int64_t lo, int64_t hi) {
    const uint64_t span = uint64_t(hi - lo) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t r;
    do r = next();
    while (r >= limit);
    return lo + int64_t(r % span);
  }

  static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

 private:
  uint64_t state_;
};

// A permutation of 0..n-1 by Fisher-Yates with Rng(seed, stream, index): e.g. an epoch's data order.
inline std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed, uint64_t stream, uint64_t index) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  Rng rng(seed, stream, index);
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(rng.integer(0, i))]);
  return order;
}

}  // namespace jess

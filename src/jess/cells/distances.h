#pragma once
// Blocked squared Euclidean distances (light header: no torch), the inner loop of k-means, k-means++
// and exact k-NN. Distances use the expansion ||x||^2 - 2 x.c + ||c||^2 (clamped at 0), with the dot
// products computed 4 rows x 4 references at a time from references packed in tiles, and the feature
// axis cut into chunks that stay in cache. Each row's result depends only on that row and the
// references, so callers that split rows over threads get identical numbers for any thread count.
// The expansion loses relative accuracy for distances much smaller than the norms; exact
// differences are used wherever a value is reported (e.g. the k-means inertia).
#include <cstdint>
#include <vector>

#include "jess/cells/matrix.h"

namespace jess::cells {

class SquaredDistances {
 public:
  static constexpr int64_t kMaxBlockRows = 64;  // rows per call of rows()

  explicit SquaredDistances(const Matrix& references);

  int64_t count() const { return count_; }
  int64_t dims() const { return dims_; }

  // Squared distances of rows begin..end-1 of x (end - begin <= kMaxBlockRows) to every reference:
  // out[(i - begin) * count() + r]. `out` must hold (end - begin) * count() values.
  void rows(const Matrix& x, int64_t begin, int64_t end, double* out) const;

 private:
  int64_t count_ = 0, dims_ = 0, tiles_ = 0;
  std::vector<double> packed_;  // [tile][feature][4]: references 4t..4t+3, zero-padded
  std::vector<double> norms_;   // ||c||^2 per reference
};

// Worker threads for `threads` (0 = hardware concurrency, at least 1).
int resolve_threads(int threads);

}  // namespace jess::cells

#pragma once
// Blocked squared Euclidean distances (light header: no torch), the inner loop of k-means, k-means++
// and exact k-NN. Distances use the expansion ||x||^2 - 2 x.c + ||c||^2 (clamped at 0), with the dot
// products of a block of rows by one BLAS dgemm (a hand-written 4x4 register kernel was 3x slower
// than NumPy's k-means). Each row's result depends only on that row and the references, so callers
// that split rows over threads get identical numbers for any thread count.
// The expansion loses relative accuracy for distances much smaller than the norms; exact
// differences are used wherever a value is reported (e.g. the k-means inertia).
#include <cstdint>
#include <vector>

#include "jess/cells/matrix.h"

namespace jess::cells {

class SquaredDistances {
 public:
  static constexpr int64_t kMaxBlockRows = 32;  // rows per call of rows(): dgemm stays single-threaded

  explicit SquaredDistances(const Matrix& references);

  int64_t count() const { return count_; }
  int64_t dims() const { return dims_; }

  // Squared distances of rows begin..end-1 of x (end - begin <= kMaxBlockRows) to every reference:
  // out[(i - begin) * count() + r]. `out` must hold (end - begin) * count() values.
  // x_norms: optional ||x_i||^2 of every row of x (row_norms(x)), for callers that reuse x many times.
  void rows(const Matrix& x, int64_t begin, int64_t end, double* out, const double* x_norms = nullptr) const;

  static std::vector<double> row_norms(const Matrix& x);

 private:
  int64_t count_ = 0, dims_ = 0;
  std::vector<double> references_;  // row-major count x dims (the dgemm operand)
  std::vector<double> norms_;   // ||c||^2 per reference
};

// Worker threads for `threads` (0 = hardware concurrency, at least 1).
int resolve_threads(int threads);

}  // namespace jess::cells

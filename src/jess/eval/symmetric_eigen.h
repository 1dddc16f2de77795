#pragma once
// Eigenpairs of a real symmetric matrix by LAPACK's dsyevr (MRRR after a blocked Householder
// tridiagonalisation): the one symmetric-eigen path of jess, used by RankMe (values only) and PCA (the
// leading pairs). No torch; row-major n x n input, of which only the lower triangle is read.
#include <cstdint>
#include <vector>

namespace jess::eval {

struct Eigenpairs {
  std::vector<double> values;   // descending
  std::vector<double> vectors;  // row-major (count x n): row i is the unit eigenvector of values[i]; empty
                                // when only values were asked for
};

// The `top` largest eigenpairs (top = 0: all of them); vectors = false: eigenvalues only.
// std::invalid_argument for a non-finite entry or a bad count; std::runtime_error if LAPACK fails.
Eigenpairs symmetric_eigen(const double* a, int64_t n, int64_t top = 0, bool vectors = true);

}  // namespace jess::eval

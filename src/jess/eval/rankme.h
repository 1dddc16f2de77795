#pragma once
// RankMe (Garrido et al., ICML 2023): the effective rank of embeddings Z (N x K) as the exponential of
// the entropy of their normalised singular values, on the uncentred Z:
//   RankMe(Z) = exp(-sum_k p_k log p_k),  p_k = sigma_k / ||sigma||_1 + eps   (eps = 1e-7).
// The singular values come from the eigenvalues of the smaller Gram matrix (Z^T Z, K x K, accumulated
// over row blocks so N can exceed memory; or Z Z^T when N < K) in float64, not from a full SVD.
#include <cstdint>
#include <string>
#include <vector>

namespace jess::eval {

struct Spectrum {
  std::vector<double> singular_values;  // descending, min(N, K) of them
  int64_t n = 0, k = 0;
  std::string dtype;                    // of the source data
};

// Streams the rows of a 2-D .npy file (float32/float64, any byte order, C or Fortran order).
Spectrum spectrum_from_npy(const std::string& path, int64_t chunk_rows = 4096);
// From an in-memory row-major N x K array.
Spectrum spectrum_from_rows(const double* z, int64_t n, int64_t k);

double rankme(const std::vector<double>& singular_values, double eps = 1e-7);

// Number of singular values above rtol * sigma_max. rtol <= 0 chooses NumPy's matrix_rank default,
// max(N, K) * machine epsilon of the source dtype, but never below 1e-7: singular values from a
// float64 Gram matrix are resolved to ~1e-8 sigma_max.
int64_t numerical_rank(const Spectrum& s, double rtol = 0);

}  // namespace jess::eval

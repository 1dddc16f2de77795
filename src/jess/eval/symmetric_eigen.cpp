#include "jess/eval/symmetric_eigen.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

// LAPACK (liblapack.so.3: the OpenBLAS build the set-up selects), linked explicitly by CMake.
extern "C" void dsyevr_(const char* jobz, const char* range, const char* uplo, const int* n, double* a, const int* lda,
                        const double* vl, const double* vu, const int* il, const int* iu, const double* abstol, int* m,
                        double* w, double* z, const int* ldz, int* isuppz, double* work, const int* lwork, int* iwork,
                        const int* liwork, int* info);

namespace jess::eval {

Eigenpairs symmetric_eigen(const double* a, int64_t n64, int64_t top, bool want_vectors) {
  if (n64 < 0 || n64 > (int64_t(1) << 30)) throw std::invalid_argument("symmetric_eigen: bad matrix size");
  if (top < 0 || top > n64) throw std::invalid_argument("symmetric_eigen: asked for " + std::to_string(top) +
                                                        " eigenpairs of a " + std::to_string(n64) + " x " + std::to_string(n64) + " matrix");
  Eigenpairs out;
  const int n = int(n64);
  if (n == 0) return out;
  // A row-major lower triangle is LAPACK's column-major upper triangle ('U'); the copy is overwritten.
  std::vector<double> m(a, a + size_t(n) * size_t(n));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j)
      if (!std::isfinite(m[size_t(i) * size_t(n) + size_t(j)]))
        throw std::invalid_argument("symmetric_eigen: non-finite entry (" + std::to_string(i) + ", " + std::to_string(j) + ")");
  const int k = top > 0 ? int(top) : n;
  const char jobz = want_vectors ? 'V' : 'N', range = k == n ? 'A' : 'I', uplo = 'U';
  const int il = n - k + 1, iu = n, lda = n, ldz = n;
  const double vl = 0, vu = 0, abstol = 0;  // 0: LAPACK's default tolerance (dlamch safe minimum based)
  int found = 0, info = 0;
  std::vector<double> w(static_cast<size_t>(n)), z(want_vectors ? size_t(n) * size_t(k) : 1);
  std::vector<int> isuppz(size_t(2) * size_t(std::max(1, k)));
  // Workspace query, then the solve.
  double work_size = 0;
  int iwork_size = 0, query = -1;
  dsyevr_(&jobz, &range, &uplo, &n, m.data(), &lda, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z.data(), &ldz,
          isuppz.data(), &work_size, &query, &iwork_size, &query, &info);
  if (info != 0) throw std::runtime_error("symmetric_eigen: LAPACK dsyevr workspace query failed (info " + std::to_string(info) + ")");
  const int lwork = std::max(1, int(work_size)), liwork = std::max(1, iwork_size);
  std::vector<double> work(static_cast<size_t>(lwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  dsyevr_(&jobz, &range, &uplo, &n, m.data(), &lda, &vl, &vu, &il, &iu, &abstol, &found, w.data(), z.data(), &ldz,
          isuppz.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
  if (info != 0 || found != k)
    throw std::runtime_error("symmetric_eigen: LAPACK dsyevr failed (info " + std::to_string(info) + ", " +
                             std::to_string(found) + " of " + std::to_string(k) + " eigenpairs)");
  // Ascending from LAPACK; z's column j (contiguous, column-major) is the eigenvector of w[j].
  out.values.resize(size_t(k));
  if (want_vectors) out.vectors.resize(size_t(k) * size_t(n));
  for (int i = 0; i < k; ++i) {
    const int j = k - 1 - i;
    out.values[size_t(i)] = w[size_t(j)];
    if (want_vectors) std::copy_n(z.data() + size_t(j) * size_t(n), n, out.vectors.data() + size_t(i) * size_t(n));
  }
  return out;
}

}  // namespace jess::eval

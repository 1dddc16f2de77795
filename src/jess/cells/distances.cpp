#include "jess/cells/distances.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

extern "C" void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k,
                       const double* alpha, const double* a, const int* lda, const double* b, const int* ldb,
                       const double* beta, double* c, const int* ldc);

namespace jess::cells {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

SquaredDistances::SquaredDistances(const Matrix& references)
    : count_(references.rows), dims_(references.cols), references_(references.data) {
  norms_.assign(size_t(count_), 0.0);
  for (int64_t r = 0; r < count_; ++r)
    for (int64_t j = 0; j < dims_; ++j) norms_[size_t(r)] += references(r, j) * references(r, j);
}

std::vector<double> SquaredDistances::row_norms(const Matrix& x) {
  std::vector<double> norms(size_t(x.rows), 0.0);
  for (int64_t i = 0; i < x.rows; ++i) {
    const double* xi = x.row(i);
    double s = 0;
    for (int64_t j = 0; j < x.cols; ++j) s += xi[j] * xi[j];
    norms[size_t(i)] = s;
  }
  return norms;
}

void SquaredDistances::rows(const Matrix& x, int64_t begin, int64_t end, double* out, const double* x_norms) const {
  if (x.cols != dims_)
    throw std::invalid_argument("squared distances: the rows have " + std::to_string(x.cols) +
                                " features, the references " + std::to_string(dims_));
  const int64_t n = end - begin, k = count_, d = dims_;
  if (n < 0 || n > kMaxBlockRows || begin < 0 || end > x.rows)
    throw std::invalid_argument("squared distances: bad row block " + std::to_string(begin) + ".." + std::to_string(end));
  // x_block . C^T by BLAS: out (n x k, row-major) is the column-major k x n product C . x_block^T,
  // i.e. dgemm('T', 'N') of the references (d x k column-major = k x d row-major) and the rows. Blocks
  // of at most kMaxBlockRows rows stay under OpenBLAS's threading threshold, so the call runs on the
  // calling worker thread (callers parallelise over blocks) and each row's result does not depend on
  // the thread count.
  {
    const char ta = 'T', tb = 'N';
    const int m_ = int(k), n_ = int(n), k_ = int(d), lda = int(d), ldb = int(d), ldc = int(k);
    const double one = 1.0, zero = 0.0;
    if (n > 0 && k > 0 && d > 0)
      dgemm_(&ta, &tb, &m_, &n_, &k_, &one, references_.data(), &lda, x.row(begin), &ldb, &zero, out, &ldc);
    else
      std::fill(out, out + n * k, 0.0);
  }
  for (int64_t i = 0; i < n; ++i) {
    double norm = 0;
    if (x_norms) {
      norm = x_norms[begin + i];
    } else {
      const double* xi = x.row(begin + i);
      for (int64_t j = 0; j < d; ++j) norm += xi[j] * xi[j];
    }
    double* o = out + i * k;
    for (int64_t c = 0; c < k; ++c) o[c] = std::max(0.0, norm - 2 * o[c] + norms_[size_t(c)]);
  }
}

}  // namespace jess::cells

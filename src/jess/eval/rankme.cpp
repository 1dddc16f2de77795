#include "jess/eval/rankme.h"

#include "jess/eval/symmetric_eigen.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "jess/core/npy.h"
#include "jess/eval/symmetric_eigen.h"

// BLAS symmetric rank-k update from the libblas.so.3 that LibTorch itself uses (OpenBLAS after
// scripts/setup.sh): Z^T Z costs half the flops of a general matrix product.
extern "C" void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                       const double* a, const int* lda, const double* beta, double* c, const int* ldc);

namespace jess::eval {
namespace {

// gram (K x K, row-major) += block^T block for a row-major (m x K) block. In column-major terms the block
// is A = block^T (K x m): C += A A^T with C's column-major upper triangle = the row-major lower one.
void syrk_accumulate(at::Tensor& gram, const double* block, int64_t m, int64_t k) {
  const int n = int(k), kk = int(m), lda = int(k), ldc = int(k);
  const double one = 1.0;
  dsyrk_("U", "N", &n, &kk, &one, block, &lda, &one, gram.data_ptr<double>(), &ldc);
}

Spectrum from_gram(const at::Tensor& gram, int64_t n, int64_t k) {
  const auto g = gram.contiguous();
  Spectrum s;
  s.n = n;
  s.k = k;
  for (int64_t r = 0; r < g.size(0); ++r)  // the lower triangle is what LAPACK reads here
    for (int64_t c = 0; c <= r; ++c)
      if (!std::isfinite(g.data_ptr<double>()[r * g.size(0) + c])) throw std::invalid_argument("the embeddings contain NaN or Inf");
  const auto e = symmetric_eigen(g.data_ptr<double>(), g.size(0), 0, /*vectors=*/false);  // descending
  for (double v : e.values) s.singular_values.push_back(std::sqrt(std::max(v, 0.0)));
  return s;
}

}  // namespace

Spectrum spectrum_from_rows(const double* z, int64_t n, int64_t k) {
  if (n < 1 || k < 1) throw std::invalid_argument("embeddings must have at least one row and one column");
  auto Z = at::from_blob(const_cast<double*>(z), {n, k}, at::kDouble);
  if (!at::isfinite(Z).all().item<bool>()) {
    const at::Tensor first = at::logical_not(at::isfinite(Z)).nonzero()[0];
    throw std::invalid_argument("the embeddings contain NaN or Inf (first at row " + std::to_string(first[0].item<int64_t>()) +
                                ", column " + std::to_string(first[1].item<int64_t>()) + ")");
  }
  // The smaller Gram matrix has the same non-zero eigenvalues sigma^2.
  return n >= k ? from_gram(Z.t().mm(Z), n, k) : from_gram(Z.mm(Z.t()), n, k);
}

Spectrum spectrum_from_npy(const std::string& path, int64_t chunk_rows) {
  NpyRowReader reader(path);
  const int64_t n = reader.rows(), k = reader.cols();
  if (n < 1 || k < 1) throw std::invalid_argument(path + ": empty embedding matrix");
  Spectrum s;
  std::vector<double> block;
  // Blocks of <= 32 MiB of float64: larger ones cross glibc's mmap threshold and are mapped afresh
  // (page faults) on every block.
  chunk_rows = std::max<int64_t>(1, std::min<int64_t>(chunk_rows, (int64_t(1) << 22) / k));
  if (n >= k) {
    // Accumulate Z^T Z over row blocks: memory O(K^2 + chunk * K), whatever N is.
    auto gram = at::zeros({k, k}, at::kDouble);
    // (Reading the next block on a second thread while BLAS works was measured 10 % slower on 2 cores.)
    while (int64_t m = reader.next(chunk_rows, block)) syrk_accumulate(gram, block.data(), m, k);
    // A NaN or Inf anywhere in Z reaches the Gram matrix: one check of K^2 values, not N K.
    if (!at::isfinite(gram).all().item<bool>()) {  // the error path reads the file again to name the item
      NpyRowReader again(path);
      int64_t row = 0;
      while (int64_t m = again.next(chunk_rows, block)) {
        for (int64_t i = 0; i < m * k; ++i)
          if (!std::isfinite(block[size_t(i)]))
            throw std::invalid_argument(path + ": the embeddings contain NaN or Inf (first at row " +
                                        std::to_string(row + i / k) + ", column " + std::to_string(i % k) + ")");
        row += m;
      }
      throw std::invalid_argument(path + ": the embeddings overflow (their Gram matrix holds Inf)");
    }
    s = from_gram(gram, n, k);  // eigvalsh reads the lower triangle, the one dsyrk filled
  } else {
    std::vector<double> all;
    all.reserve(size_t(n * k));
    while (reader.next(chunk_rows, block)) all.insert(all.end(), block.begin(), block.end());
    s = spectrum_from_rows(all.data(), n, k);
  }
  s.dtype = reader.dtype();
  return s;
}

double rankme(const std::vector<double>& sigma, double eps) {
  double l1 = 0;
  for (double v : sigma) l1 += std::abs(v);
  if (!(l1 > 0)) return 0.0;  // Z = 0 has no rank; RankMe would be exp(H(eps...)) otherwise
  double h = 0;
  for (double v : sigma) {
    const double p = std::abs(v) / l1 + eps;
    if (p > 0) h -= p * std::log(p);  // p log p -> 0 as p -> 0 (eps = 0 with zero singular values)
  }
  return std::exp(h);
}

int64_t numerical_rank(const Spectrum& s, double rtol) {
  if (s.singular_values.empty()) return 0;
  if (rtol <= 0) {
    const bool single = s.dtype.find("f4") != std::string::npos;
    rtol = std::max(1e-7, double(std::max(s.n, s.k)) * (single ? 1.1920929e-7 : 2.220446e-16));
  }
  const double cut = rtol * s.singular_values.front();
  return int64_t(std::count_if(s.singular_values.begin(), s.singular_values.end(), [&](double v) { return v > cut; }));
}

}  // namespace jess::eval

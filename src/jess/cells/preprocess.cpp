#include "jess/cells/preprocess.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>
#include <stdexcept>

#include "jess/cells/distances.h"
#include "jess/core/parallel.h"
#include "jess/eval/symmetric_eigen.h"

// The covariance (or Gram) matrix is the one O(n d^2) step of PCA; the project's BLAS does it
// (libblas.so.3, linked through jess_eval, as rankme.cpp does), and LAPACK's dsyevr (eval/
// symmetric_eigen) its eigenpairs: all of them, or only the leading ones.
extern "C" void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha,
                       const double* a, const int* lda, const double* beta, double* c, const int* ldc);

namespace jess::cells {
namespace {

constexpr int64_t kMaxEigenDimension = 5000;

std::string num(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

void require_non_negative(const Matrix& x, const std::string& option) {
  for (size_t i = 0; i < x.data.size(); ++i)
    if (!(x.data[i] >= 0))  // also catches NaN
      throw std::invalid_argument(option + " needs non-negative, finite expression values, but cell " +
                                  std::to_string(int64_t(i) / x.cols) + ", feature " +
                                  std::to_string(int64_t(i) % x.cols) + " holds " + num(x.data[i]) +
                                  " (is the input already log-transformed or scaled? then switch " + option + " off)");
}

}  // namespace

// Both go through the core's LAPACK path (eval/symmetric_eigen: dsyevr), the one RankMe uses.
SymmetricEigen symmetric_eigen(const Matrix& a) {
  if (a.rows != a.cols) throw std::invalid_argument("symmetric_eigen: the matrix is not square");
  auto e = eval::symmetric_eigen(a.data.data(), a.rows);
  SymmetricEigen r;
  r.values = std::move(e.values);
  r.vectors = Matrix(a.rows, a.rows);
  r.vectors.data = std::move(e.vectors);
  return r;
}

SymmetricEigen symmetric_eigen_top(const Matrix& a, int k) {
  if (a.rows != a.cols) throw std::invalid_argument("symmetric_eigen_top: the matrix is not square");
  if (k < 1 || k > a.rows)
    throw std::invalid_argument("symmetric_eigen_top: k = " + std::to_string(k) + " must be in 1.." + std::to_string(a.rows));
  auto e = eval::symmetric_eigen(a.data.data(), a.rows, k);
  SymmetricEigen r;
  r.values = std::move(e.values);
  r.vectors = Matrix(k, a.rows);
  r.vectors.data = std::move(e.vectors);
  return r;
}

std::vector<int64_t> features_expressed_in(const Matrix& x, int min_cells) {
  if (min_cells < 0) throw std::invalid_argument("min_cells must be >= 0 (got " + std::to_string(min_cells) + ")");
  std::vector<int64_t> expressed(size_t(x.cols), 0);
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) expressed[size_t(j)] += x(i, j) > 0;
  std::vector<int64_t> kept;
  for (int64_t j = 0; j < x.cols; ++j)
    if (expressed[size_t(j)] >= min_cells) kept.push_back(j);
  return kept;
}

double normalize_total(Matrix& x, std::optional<double> target_sum) {
  if (target_sum && (!(*target_sum > 0) || !std::isfinite(*target_sum)))
    throw std::invalid_argument("target_sum must be a positive number (got " + num(*target_sum) +
                                "); leave it unset for the median library size");
  require_non_negative(x, "target_sum (library-size normalisation)");
  std::vector<double> sizes(size_t(x.rows), 0.0);
  for (int64_t i = 0; i < x.rows; ++i)
    for (int64_t j = 0; j < x.cols; ++j) sizes[size_t(i)] += x(i, j);
  double target = 0;
  if (target_sum) {
    target = *target_sum;
  } else {
    // scanpy: the median over the cells whose library is not empty.
    std::vector<double> nonzero;
    for (double s : sizes)
      if (s > 0) nonzero.push_back(s);
    if (nonzero.empty()) throw std::invalid_argument("target_sum: every cell has an empty library (all zeros)");
    std::sort(nonzero.begin(), nonzero.end());
    const size_t m = nonzero.size();
    target = m % 2 ? nonzero[m / 2] : 0.5 * (nonzero[m / 2 - 1] + nonzero[m / 2]);
  }
  for (int64_t i = 0; i < x.rows; ++i) {
    if (sizes[size_t(i)] == 0) continue;  // empty cells stay zero, as in scanpy
    const double scale = target / sizes[size_t(i)];
    for (int64_t j = 0; j < x.cols; ++j) x(i, j) *= scale;
  }
  return target;
}

void log1p_in_place(Matrix& x) {
  for (size_t i = 0; i < x.data.size(); ++i) {
    if (!(x.data[i] > -1))
      throw std::invalid_argument("log1p needs values > -1, but cell " + std::to_string(int64_t(i) / x.cols) +
                                  ", feature " + std::to_string(int64_t(i) % x.cols) + " holds " + num(x.data[i]));
    x.data[i] = std::log1p(x.data[i]);
  }
}

HighlyVariableGenes highly_variable_genes_seurat(const Matrix& x, int n_top_genes, int n_bins) {
  if (n_top_genes < 1) throw std::invalid_argument("n_top_genes must be at least 1 (got " + std::to_string(n_top_genes) + ")");
  if (n_bins < 1) throw std::invalid_argument("hvg_bins must be at least 1 (got " + std::to_string(n_bins) + ")");
  if (x.rows < 2) throw std::invalid_argument("n_top_genes: highly variable genes need at least 2 cells");
  require_non_negative(x, "n_top_genes (Seurat dispersion)");
  const int64_t n = x.rows, d = x.cols;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  HighlyVariableGenes h;
  h.means.resize(size_t(d));
  h.dispersions.resize(size_t(d));
  h.dispersions_norm.assign(size_t(d), nan);
  h.bins.resize(size_t(d));
  for (int64_t j = 0; j < d; ++j) {
    double mean = 0;
    for (int64_t i = 0; i < n; ++i) mean += x(i, j);
    mean /= double(n);
    double var = 0;
    for (int64_t i = 0; i < n; ++i) var += (x(i, j) - mean) * (x(i, j) - mean);
    var /= double(n - 1);
    if (mean == 0) mean = 1e-12;  // scanpy's guard against 0/0
    const double dispersion = var / mean;
    h.dispersions[size_t(j)] = dispersion == 0 ? nan : std::log(dispersion);
    h.means[size_t(j)] = std::log1p(mean);
  }
  // pd.cut(means, n_bins): equal-width bins over [min, max], closed on the right (the lowest value is
  // in the first bin).
  const auto [lo, hi] = std::minmax_element(h.means.begin(), h.means.end());
  const double min = d ? *lo : 0, width = d ? (*hi - *lo) / n_bins : 0;
  for (int64_t j = 0; j < d; ++j) {
    int bin = width > 0 ? int(std::ceil((h.means[size_t(j)] - min) / width)) - 1 : 0;
    h.bins[size_t(j)] = std::clamp(bin, 0, n_bins - 1);
  }
  // Mean and standard deviation (ddof = 1) of the finite dispersions of each bin; a bin with a single
  // gene gets mean 0 and standard deviation = its dispersion, i.e. a normalised dispersion of 1.
  std::vector<double> sum(size_t(n_bins), 0.0), sum_sq(size_t(n_bins), 0.0);
  std::vector<int64_t> count(size_t(n_bins), 0);
  for (int64_t j = 0; j < d; ++j)
    if (std::isfinite(h.dispersions[size_t(j)])) {
      sum[size_t(h.bins[size_t(j)])] += h.dispersions[size_t(j)];
      ++count[size_t(h.bins[size_t(j)])];
    }
  std::vector<double> bin_mean(size_t(n_bins), nan), bin_std(size_t(n_bins), nan);
  for (int b = 0; b < n_bins; ++b)
    if (count[size_t(b)] > 0) bin_mean[size_t(b)] = sum[size_t(b)] / double(count[size_t(b)]);
  for (int64_t j = 0; j < d; ++j)
    if (std::isfinite(h.dispersions[size_t(j)])) {
      const int b = h.bins[size_t(j)];
      sum_sq[size_t(b)] += (h.dispersions[size_t(j)] - bin_mean[size_t(b)]) * (h.dispersions[size_t(j)] - bin_mean[size_t(b)]);
    }
  for (int b = 0; b < n_bins; ++b) {
    if (count[size_t(b)] > 1) {
      bin_std[size_t(b)] = std::sqrt(sum_sq[size_t(b)] / double(count[size_t(b)] - 1));
    } else if (count[size_t(b)] == 1) {
      bin_std[size_t(b)] = bin_mean[size_t(b)];
      bin_mean[size_t(b)] = 0;
    }
  }
  for (int64_t j = 0; j < d; ++j) {
    const int b = h.bins[size_t(j)];
    if (std::isfinite(h.dispersions[size_t(j)]))
      h.dispersions_norm[size_t(j)] = (h.dispersions[size_t(j)] - bin_mean[size_t(b)]) / bin_std[size_t(b)];
  }
  // The n_top_genes largest normalised dispersions; undefined ones (NaN) rank last, ties by index.
  // (scanpy keeps every gene >= the cut-off value, which can exceed n_top_genes on exact ties.)
  std::vector<int64_t> order(static_cast<size_t>(d));
  std::iota(order.begin(), order.end(), int64_t(0));
  auto key = [&](int64_t j) {
    const double v = h.dispersions_norm[size_t(j)];
    return std::isnan(v) ? -std::numeric_limits<double>::infinity() : v;
  };
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return key(a) > key(b); });
  order.resize(size_t(std::min<int64_t>(d, n_top_genes)));
  std::sort(order.begin(), order.end());
  h.selected = std::move(order);
  return h;
}

PcaResult pca(const Matrix& x, int n_components, EigenSolver solver) {
  const int64_t n = x.rows, d = x.cols;
  if (n < 2) throw std::invalid_argument("n_components: PCA needs at least 2 cells (got " + std::to_string(n) + ")");
  const int64_t rank_bound = std::min(n, d);
  if (n_components < 1 || n_components > rank_bound)
    throw std::invalid_argument("n_components must be in 1..min(cells, features) = 1.." + std::to_string(rank_bound) +
                                " (got " + std::to_string(n_components) + ")");
  // The dense eigensolver is O(m^3) for m = min(cells, features): the covariance (features x features)
  // or, with fewer cells than features, the Gram matrix of the cells (same non-zero spectrum).
  if (rank_bound > kMaxEigenDimension)
    throw std::invalid_argument("n_components: PCA on " + std::to_string(n) + " cells x " + std::to_string(d) +
                                " features needs a " + std::to_string(rank_bound) + "^2 eigenproblem; the limit is " +
                                std::to_string(kMaxEigenDimension) + "; select highly variable genes first (n_top_genes)");
  for (double v : x.data)
    if (!std::isfinite(v)) throw std::invalid_argument("n_components: PCA input holds a non-finite value");

  PcaResult r;
  r.mean.assign(size_t(d), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) r.mean[size_t(j)] += x(i, j);
  for (double& m : r.mean) m /= double(n);
  Matrix centred(n, d);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < d; ++j) centred(i, j) = x(i, j) - r.mean[size_t(j)];

  const bool gram = n < d;
  const int m = int(rank_bound);
  Matrix product(m, m, 0.0);
  {
    // Row-major `centred` (n x d) is, read column-major, its transpose A = centred^T (d x n, lda = d).
    // Covariance: A A^T (trans 'N', k = n); Gram: A^T A (trans 'T', k = d). Column-major upper = our
    // lower triangle, which is all symmetric_eigen reads.
    const int ni = m, ki = int(gram ? d : n), lda = int(d), ldc = m;
    const double one = 1.0, zero = 0.0;
    dsyrk_("U", gram ? "T" : "N", &ni, &ki, &one, centred.data.data(), &lda, &zero, product.data.data(), &ldc);
  }
  // Only the leading pairs are computed unless all were asked for (EigenSolver::dense).
  const SymmetricEigen eig = solver == EigenSolver::dense ? symmetric_eigen(product) : symmetric_eigen_top(product, n_components);
  double total = 0;
  for (int64_t j = 0; j < m; ++j) total += product(j, j);  // trace = total variance * (n - 1)
  const double dof = double(n - 1);

  r.components = Matrix(n_components, d, 0.0);
  r.scores = Matrix(n, n_components, 0.0);
  r.explained_variance.resize(size_t(n_components));
  r.explained_variance_ratio.resize(size_t(n_components));
  for (int c = 0; c < n_components; ++c) {
    const double lambda = std::max(0.0, eig.values[size_t(c)]);
    r.explained_variance[size_t(c)] = lambda / dof;
    r.explained_variance_ratio[size_t(c)] = total > 0 ? lambda / total : 0.0;
    const double* u = eig.vectors.row(c);
    double* component = r.components.row(c);
    if (gram) {
      // v = centred^T u / sqrt(lambda); a zero eigenvalue gives no direction (left as zeros).
      if (lambda > 0) {
        const double inv = 1.0 / std::sqrt(lambda);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < d; ++j) component[j] += centred(i, j) * u[i] * inv;
      }
    } else {
      std::copy_n(u, d, component);
    }
  }
  for (int64_t i = 0; i < n; ++i)
    for (int c = 0; c < n_components; ++c) {
      double s = 0;
      for (int64_t j = 0; j < d; ++j) s += centred(i, j) * r.components(c, j);
      r.scores(i, c) = s;
    }
  // Signs as sklearn's PCA (svd_flip, u-based): the score of largest magnitude is positive.
  for (int c = 0; c < n_components; ++c) {
    int64_t arg = 0;
    for (int64_t i = 1; i < n; ++i)
      if (std::abs(r.scores(i, c)) > std::abs(r.scores(arg, c))) arg = i;
    if (r.scores(arg, c) < 0) {
      for (int64_t i = 0; i < n; ++i) r.scores(i, c) = -r.scores(i, c);
      for (int64_t j = 0; j < d; ++j) r.components(c, j) = -r.components(c, j);
    }
  }
  return r;
}

PreprocessRecord preprocess(CellData& data, const PreprocessOptions& o) {
  if (o.min_cells < 0) throw std::invalid_argument("min_cells must be >= 0 (got " + std::to_string(o.min_cells) + ")");
  if (o.n_top_genes < 0)
    throw std::invalid_argument("n_top_genes must be >= 0 (0 = off; got " + std::to_string(o.n_top_genes) + ")");
  if (o.hvg_bins < 1) throw std::invalid_argument("hvg_bins must be at least 1 (got " + std::to_string(o.hvg_bins) + ")");
  if (o.n_components < 0)
    throw std::invalid_argument("n_components must be >= 0 (0 = off; got " + std::to_string(o.n_components) + ")");
  if (o.target_sum && (*o.target_sum < 0 || !std::isfinite(*o.target_sum)))
    throw std::invalid_argument("target_sum must be > 0, 0 (off) or unset (median library size); got " +
                                num(*o.target_sum));

  PreprocessRecord rec;
  rec.input_cells = data.x.rows;
  rec.input_features = data.x.cols;
  std::vector<int64_t> columns(size_t(data.x.cols));  // input index of every current column
  std::iota(columns.begin(), columns.end(), int64_t(0));

  if (o.min_cells > 0) {
    const std::vector<int64_t> kept = features_expressed_in(data.x, o.min_cells);
    if (kept.empty())
      throw std::invalid_argument("min_cells = " + std::to_string(o.min_cells) + " removes every feature");
    if (kept.size() != columns.size()) data.select_features(kept);
    columns = kept;
  }
  rec.kept_by_min_cells = columns;

  const bool normalise = !o.target_sum || *o.target_sum > 0;
  if (normalise) rec.target_sum = normalize_total(data.x, o.target_sum);

  if (o.n_top_genes > 0) {
    rec.hvg = true;
    rec.hvg_table = highly_variable_genes_seurat(data.x, o.n_top_genes, o.hvg_bins);
  }
  if (o.log1p) {
    log1p_in_place(data.x);
    rec.log1p = true;
  }
  if (rec.hvg && rec.hvg_table.selected.size() != columns.size()) {
    data.select_features(rec.hvg_table.selected);
    std::vector<int64_t> selected;
    for (int64_t j : rec.hvg_table.selected) selected.push_back(columns[size_t(j)]);
    columns = std::move(selected);
  }
  rec.selected_features = columns;

  if (o.n_components > 0) {
    rec.pca = true;
    rec.pca_result = pca(data.x, o.n_components);
    data.x = rec.pca_result.scores;
    data.features.clear();
    for (int c = 0; c < o.n_components; ++c) data.features.push_back("PC" + std::to_string(c + 1));
  }
  return rec;
}

std::vector<std::string> PreprocessRecord::summary() const {
  std::vector<std::string> lines;
  lines.push_back("input: " + std::to_string(input_cells) + " cells x " + std::to_string(input_features) + " features");
  if (int64_t(kept_by_min_cells.size()) != input_features)
    lines.push_back("min_cells: kept " + std::to_string(kept_by_min_cells.size()) + " of " +
                    std::to_string(input_features) + " features");
  lines.push_back(target_sum > 0 ? "normalised every library to " + num(target_sum) : "no library-size normalisation");
  lines.push_back(log1p ? "log1p" : "no log1p");
  if (hvg)
    lines.push_back("highly variable genes (Seurat): kept " + std::to_string(selected_features.size()) + " of " +
                    std::to_string(kept_by_min_cells.size()) + " features");
  if (pca) {
    double explained = 0;
    for (double r : pca_result.explained_variance_ratio) explained += r;
    lines.push_back("PCA: " + std::to_string(pca_result.components.rows) + " components explain " +
                    num(100 * explained) + "% of the variance");
  }
  return lines;
}

}  // namespace jess::cells

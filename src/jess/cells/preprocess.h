#pragma once
// scanpy-style preprocessing of a count matrix (light header: no torch). The DTAE repository reads
// data that were preprocessed outside it; the paper presumably used the standard scanpy recipe
// (research brief, section A.1): drop rarely expressed genes, library-size normalisation, log1p,
// Seurat-flavour highly variable genes, optionally PCA. The order here is scanpy's:
//   filter_genes(min_cells) -> normalize_total(target_sum) -> highly_variable_genes(flavor='seurat')
//   on the normalised, not yet logged values -> log1p -> keep the HVGs -> PCA.
// Every step can be switched off; preprocess() returns a record of what it did.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "jess/cells/matrix.h"

namespace jess::cells {

struct PreprocessOptions {
  // Drop features expressed (value > 0) in fewer than min_cells cells (sc.pp.filter_genes); 0 = off.
  int min_cells = 3;
  // sc.pp.normalize_total: every cell is scaled to this library size (row sum). Unset = the median
  // library size of the cells with a non-zero library (scanpy's default); 0 = no normalisation.
  std::optional<double> target_sum;
  bool log1p = true;  // x -> log(1 + x) after normalisation
  // Seurat-flavour highly variable genes (sc.pp.highly_variable_genes(flavor='seurat')): keep the
  // n_top_genes features with the largest normalised dispersion; 0 = off. When the data have no more
  // features than this, all are kept (the table is still computed).
  int n_top_genes = 2000;
  int hvg_bins = 20;  // equal-width bins of log1p(mean) in which dispersions are z-scored
  // PCA scores replace the features (centred data, sklearn's PCA with the full solver); 0 = off.
  int n_components = 0;
};

// sc.pp.highly_variable_genes(flavor='seurat') on normalised, non-logged values, per feature.
struct HighlyVariableGenes {
  std::vector<double> means;             // log1p(mean)
  std::vector<double> dispersions;       // log(var / mean), var with ddof = 1; NaN where var = 0
  std::vector<double> dispersions_norm;  // z-score of the dispersion within its mean bin; NaN if undefined
  std::vector<int> bins;                 // mean bin of each feature, 0..n_bins-1
  std::vector<int64_t> selected;         // indices of the chosen features, ascending
};

struct PcaResult {
  Matrix scores;                        // cells x n_components: centred data times the components
  Matrix components;                    // n_components x features, orthonormal rows
  std::vector<double> mean;             // per feature, subtracted before projecting
  std::vector<double> explained_variance;        // eigenvalues of the covariance (ddof = 1), descending
  std::vector<double> explained_variance_ratio;  // ... divided by the total variance
};

struct PreprocessRecord {
  int64_t input_cells = 0, input_features = 0;
  std::vector<int64_t> kept_by_min_cells;  // input feature indices that passed min_cells (ascending)
  double target_sum = 0;                   // library size used; 0 when normalisation was off
  bool log1p = false;
  bool hvg = false;
  HighlyVariableGenes hvg_table;           // per kept_by_min_cells feature (when hvg)
  std::vector<int64_t> selected_features;  // input feature indices finally kept (ascending)
  bool pca = false;
  PcaResult pca_result;                    // when pca (scores are also the new data)
  // One line per step, for the CLI ("min_cells=3: kept 1804 of 2000 features", ...).
  std::vector<std::string> summary() const;
};

// Runs the enabled steps on data.x in place; feature names follow the selection (PCA names the new
// features PC1, PC2, ...). Throws std::invalid_argument naming the option that cannot be applied
// (negative counts with normalisation/log1p/HVG, n_components too large, ...).
PreprocessRecord preprocess(CellData& data, const PreprocessOptions& options = {});

// The single steps, for tests and for callers that compose their own pipeline.
std::vector<int64_t> features_expressed_in(const Matrix& x, int min_cells);
double normalize_total(Matrix& x, std::optional<double> target_sum = std::nullopt);  // returns the target used
void log1p_in_place(Matrix& x);
HighlyVariableGenes highly_variable_genes_seurat(const Matrix& normalized, int n_top_genes, int n_bins = 20);
// PCA of the rows of x (centred; sklearn's PCA with the full solver, signs as its svd_flip). Needs
// 2 <= cells, 1 <= n_components <= m = min(cells, features) and m <= 5000 (else the error suggests
// selecting highly variable genes first). The covariance (or, with fewer cells than features, the
// Gram matrix, same non-zero spectrum) comes from BLAS dsyrk; `solver` picks its eigensolver.
// automatic/leading: only the n_components leading eigenpairs (LAPACK dsyevr); dense: all (then cut).
enum class EigenSolver { automatic, dense, leading };
PcaResult pca(const Matrix& x, int n_components, EigenSolver solver = EigenSolver::automatic);

// Eigendecomposition of a symmetric matrix (LAPACK's dsyevr through eval/symmetric_eigen). Eigenvalues
// descending; row k of `vectors` is the unit eigenvector of values[k]. Only the lower triangle of `a`
// is read.
struct SymmetricEigen {
  std::vector<double> values;
  Matrix vectors;
};
SymmetricEigen symmetric_eigen(const Matrix& a);

// Only the k largest eigenpairs (dsyevr's index range: the tridiagonalisation is O(m^3) as for all
// pairs, the eigenvectors O(m^2 k)).
SymmetricEigen symmetric_eigen_top(const Matrix& a, int k);

}  // namespace jess::cells

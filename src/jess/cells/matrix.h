#pragma once
// The cells package's data types (light header: no torch). A single-cell dataset is a dense
// cells x features matrix (counts, FPKM or preprocessed values; row-major doubles) with cell and
// feature names and per-cell annotations (time point, state, pseudotime, branch) used as labels for
// colouring and for metrics.
#include <cstdint>
#include <string>
#include <vector>

namespace jess::cells {

struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> data;  // row-major, rows * cols

  Matrix() = default;
  Matrix(int64_t r, int64_t c, double fill = 0.0) : rows(r), cols(c), data(size_t(r * c), fill) {}
  double& operator()(int64_t i, int64_t j) { return data[size_t(i * cols + j)]; }
  double operator()(int64_t i, int64_t j) const { return data[size_t(i * cols + j)]; }
  double* row(int64_t i) { return data.data() + i * cols; }
  const double* row(int64_t i) const { return data.data() + i * cols; }
};

// One per-cell annotation column. Categorical columns keep the text of each cell's value (R factors
// are decoded to their level names); numeric columns also fill `numbers`.
struct Annotation {
  std::string name;
  std::vector<std::string> values;  // one per cell
  std::vector<double> numbers;      // one per cell when numeric (NaN for missing)
  bool numeric = false;
};

struct CellData {
  Matrix x;                          // cells x features
  std::vector<std::string> cells;    // row names (may be empty)
  std::vector<std::string> features; // column names, e.g. genes (may be empty)
  std::vector<Annotation> annotations;

  // The annotation called `name`; throws std::invalid_argument listing the available names.
  const Annotation& annotation(const std::string& name) const;
  // Keeps only the given features (columns), in the given order.
  void select_features(const std::vector<int64_t>& columns);
};

}  // namespace jess::cells

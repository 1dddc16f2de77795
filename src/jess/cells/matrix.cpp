#include "jess/cells/matrix.h"

#include <stdexcept>

namespace jess::cells {

const Annotation& CellData::annotation(const std::string& name) const {
  for (const auto& a : annotations)
    if (a.name == name) return a;
  std::string names;
  for (const auto& a : annotations) names += (names.empty() ? "" : ", ") + a.name;
  throw std::invalid_argument("no cell annotation '" + name + "'" +
                              (names.empty() ? std::string(" (the data has none)") : " (available: " + names + ")"));
}

void CellData::select_features(const std::vector<int64_t>& columns) {
  Matrix y(x.rows, int64_t(columns.size()));
  for (int64_t j : columns)
    if (j < 0 || j >= x.cols) throw std::out_of_range("feature index " + std::to_string(j) + " out of range");
  for (int64_t i = 0; i < x.rows; ++i)
    for (size_t k = 0; k < columns.size(); ++k) y(i, int64_t(k)) = x(i, columns[k]);
  std::vector<std::string> names;
  if (!features.empty())
    for (int64_t j : columns) names.push_back(features[size_t(j)]);
  x = std::move(y);
  features = std::move(names);
}

}  // namespace jess::cells

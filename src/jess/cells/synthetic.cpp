#include "jess/cells/synthetic.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>

namespace jess::cells {
namespace {

// Exactly specified draws from the raw std::mt19937_64 stream (std:: distributions differ between
// standard libraries, which would change the data set from one toolchain to another).
double uniform01(std::mt19937_64& gen) { return double(gen() >> 11) * 0x1.0p-53; }

constexpr double kPi = 3.14159265358979323846;

class Normal {  // Box-Muller, both values used
 public:
  double operator()(std::mt19937_64& gen) {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - uniform01(gen);  // (0, 1]: log is finite
    const double u2 = uniform01(gen);
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * kPi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  double spare_ = 0;
  bool has_spare_ = false;
};

// branch_length x n_dim cumulative sum of uniform [-1, 1) steps (gen_dla's rand_multiplier = 2),
// written into rows [first_row, first_row + length) of m, plus `offset` (a row of m or nullptr).
void random_walk(Matrix& m, int64_t first_row, int64_t length, const std::vector<double>& offset,
                 std::mt19937_64& gen) {
  std::vector<double> position = offset;
  for (int64_t s = 0; s < length; ++s)
    for (int64_t j = 0; j < m.cols; ++j) {
      position[size_t(j)] += -1.0 + 2.0 * uniform01(gen);
      m(first_row + s, j) = position[size_t(j)];
    }
}

}  // namespace

CellData synthetic_tree(const SyntheticTreeOptions& o) {
  if (o.n_branch < 1) throw std::invalid_argument("synthetic tree: n_branch must be at least 1 (got " + std::to_string(o.n_branch) + ")");
  if (o.branch_length < 1)
    throw std::invalid_argument("synthetic tree: branch_length must be at least 1 (got " + std::to_string(o.branch_length) + ")");
  if (o.n_dim < 1) throw std::invalid_argument("synthetic tree: n_dim must be at least 1 (got " + std::to_string(o.n_dim) + ")");
  if (!(o.sigma >= 0) || !std::isfinite(o.sigma))
    throw std::invalid_argument("synthetic tree: sigma must be a finite number >= 0 (got " + std::to_string(o.sigma) + ")");

  std::mt19937_64 gen(o.seed);
  const int64_t length = o.branch_length, n = int64_t(o.n_branch) * length;
  CellData data;
  data.x = Matrix(n, o.n_dim);
  Annotation branch{"branch", {}, {}, false}, position{"position", {}, {}, true}, attached{"attached_at", {}, {}, true};
  branch.values.reserve(size_t(n));
  position.values.reserve(size_t(n));
  position.numbers.reserve(size_t(n));

  random_walk(data.x, 0, length, std::vector<double>(size_t(o.n_dim), 0.0), gen);
  for (int b = 1; b < o.n_branch; ++b) {
    // As in gen_dla: the attachment step is drawn before the branch's own walk.
    const int64_t at = std::min<int64_t>(length - 1, int64_t(uniform01(gen) * double(length)));
    const std::vector<double> offset(data.x.row(at), data.x.row(at) + o.n_dim);
    random_walk(data.x, int64_t(b) * length, length, offset, gen);
    for (int64_t s = 0; s < length; ++s) attached.numbers.push_back(double(at));
  }
  attached.numbers.insert(attached.numbers.begin(), size_t(length), std::numeric_limits<double>::quiet_NaN());

  Normal normal;
  if (o.sigma > 0)
    for (double& v : data.x.data) v += o.sigma * normal(gen);

  if (o.min_max_scale) {
    // phate_data_generation.py: X -= X.min(); X /= X.max() (one global scale, not per feature).
    const auto [lo, hi] = std::minmax_element(data.x.data.begin(), data.x.data.end());
    const double min = *lo, range = *hi - *lo;
    for (double& v : data.x.data) v = range > 0 ? (v - min) / range : 0.0;
  }

  for (int b = 0; b < o.n_branch; ++b)
    for (int64_t s = 0; s < length; ++s) {
      branch.values.push_back(std::to_string(b));
      position.values.push_back(std::to_string(s));
      position.numbers.push_back(double(s));
    }
  for (double a : attached.numbers) attached.values.push_back(std::isnan(a) ? "NA" : std::to_string(int64_t(a)));
  data.annotations = {std::move(branch), std::move(position), std::move(attached)};
  return data;
}

}  // namespace jess::cells

#include "jess/cells/kmeans.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "jess/cells/distances.h"
#include "jess/core/parallel.h"

namespace jess::cells {
namespace {

constexpr int64_t kRowBlock = SquaredDistances::kMaxBlockRows;  // rows per work item

// Uniform double in [0, 1) from the raw 64-bit stream (exactly specified, unlike
// std::uniform_real_distribution whose algorithm differs between standard libraries).
double uniform01(std::mt19937_64& gen) { return double(gen() >> 11) * 0x1.0p-53; }

double squared_distance(const double* a, const double* b, int64_t d) {
  double s = 0;
  for (int64_t j = 0; j < d; ++j) {
    const double t = a[j] - b[j];
    s += t * t;
  }
  return s;
}

void validate(const Matrix& x, int k, const KMeansOptions& o) {
  if (x.rows < 1 || x.cols < 1)
    throw std::invalid_argument("k-means: the data are empty (" + std::to_string(x.rows) + " x " +
                                std::to_string(x.cols) + ")");
  if (k < 1) throw std::invalid_argument("k-means: k must be at least 1 (got " + std::to_string(k) + ")");
  if (int64_t(k) > x.rows)
    throw std::invalid_argument("k-means: k = " + std::to_string(k) + " exceeds the number of points (" +
                                std::to_string(x.rows) + ")");
  if (o.n_init < 1) throw std::invalid_argument("k-means: n_init must be at least 1 (got " + std::to_string(o.n_init) + ")");
  if (o.max_iter < 1)
    throw std::invalid_argument("k-means: max_iter must be at least 1 (got " + std::to_string(o.max_iter) + ")");
  if (!(o.tol >= 0) || !std::isfinite(o.tol))
    throw std::invalid_argument("k-means: tol must be a finite number >= 0 (got " + std::to_string(o.tol) + ")");
  if (o.local_trials < 0)
    throw std::invalid_argument("k-means: local_trials must be >= 0 (0 = 2 + log k; got " +
                                std::to_string(o.local_trials) + ")");
  for (size_t i = 0; i < x.data.size(); ++i)
    if (!std::isfinite(x.data[i]))
      throw std::invalid_argument("k-means: the data hold a non-finite value at row " +
                                  std::to_string(int64_t(i) / x.cols) + ", column " +
                                  std::to_string(int64_t(i) % x.cols));
}

// sklearn's _tolerance: tol times the mean over features of the (population) variance.
double absolute_tolerance(const Matrix& x, double tol) {
  if (tol == 0) return 0;
  double total = 0;
  for (int64_t j = 0; j < x.cols; ++j) {
    double mean = 0;
    for (int64_t i = 0; i < x.rows; ++i) mean += x(i, j);
    mean /= double(x.rows);
    double var = 0;
    for (int64_t i = 0; i < x.rows; ++i) var += (x(i, j) - mean) * (x(i, j) - mean);
    total += var / double(x.rows);
  }
  return tol * total / double(x.cols);
}

// M-step: centroid = mean of its points. Empty clusters are re-seeded as in sklearn's
// _relocate_empty_clusters_dense: the points farthest from their current centroid (largest first,
// ties by index) become the new centroids and are taken out of their old cluster's mean.
Matrix update_centroids(const Matrix& x, const Matrix& old_centroids, const std::vector<int>& labels,
                        const std::vector<double>& distances) {
  const int64_t k = old_centroids.rows, d = x.cols;
  Matrix sums(k, d, 0.0);
  std::vector<int64_t> counts(size_t(k), 0);
  for (int64_t i = 0; i < x.rows; ++i) {
    const int c = labels[size_t(i)];
    ++counts[size_t(c)];
    double* s = sums.row(c);
    const double* xi = x.row(i);
    for (int64_t j = 0; j < d; ++j) s[j] += xi[j];
  }
  std::vector<int64_t> empty;
  for (int64_t c = 0; c < k; ++c)
    if (counts[size_t(c)] == 0) empty.push_back(c);
  if (!empty.empty()) {
    std::vector<int64_t> order(size_t(x.rows));
    std::iota(order.begin(), order.end(), int64_t(0));
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t a, int64_t b) { return distances[size_t(a)] > distances[size_t(b)]; });
    for (size_t e = 0; e < empty.size() && e < order.size(); ++e) {
      const int64_t far = order[e], from = labels[size_t(far)], to = empty[e];
      for (int64_t j = 0; j < d; ++j) {
        sums(from, j) -= x(far, j);
        sums(to, j) = x(far, j);
      }
      --counts[size_t(from)];
      counts[size_t(to)] = 1;
    }
  }
  Matrix centroids(k, d);
  for (int64_t c = 0; c < k; ++c)
    for (int64_t j = 0; j < d; ++j)
      centroids(c, j) = counts[size_t(c)] > 0 ? sums(c, j) / double(counts[size_t(c)]) : old_centroids(c, j);
  return centroids;
}

struct Run {
  Matrix centroids;
  std::vector<int> labels;
  double inertia = 0;
  int iterations = 0;
};

// One Lloyd run from the given initial centroids, with sklearn's stopping rules: stop when the labels
// did not change (strict convergence) or the summed squared centroid shift is <= tol; without strict
// convergence the labels are recomputed for the final centroids so the two agree.
Run lloyd(const Matrix& x, Matrix centroids, int max_iter, double tol_abs, int threads) {
  Run run;
  std::vector<int> labels(size_t(x.rows), -1), previous(size_t(x.rows), -1);
  bool strict = false;
  int it = 0;
  for (; it < max_iter; ++it) {
    const std::vector<double> distances = assign_to_nearest(x, centroids, labels, threads);
    Matrix updated = update_centroids(x, centroids, labels, distances);
    double shift = 0;
    for (size_t j = 0; j < updated.data.size(); ++j) {
      const double t = updated.data[j] - centroids.data[j];
      shift += t * t;
    }
    centroids = std::move(updated);
    if (labels == previous) {
      strict = true;
      break;
    }
    if (shift <= tol_abs) break;
    previous = labels;
  }
  if (!strict) assign_to_nearest(x, centroids, labels, threads);
  run.iterations = std::min(it + 1, max_iter);
  run.inertia = kmeans_inertia(x, centroids, labels);
  run.centroids = std::move(centroids);
  run.labels = std::move(labels);
  return run;
}

}  // namespace

std::vector<double> assign_to_nearest(const Matrix& x, const Matrix& centroids, std::vector<int>& labels,
                                      int threads) {
  if (centroids.cols != x.cols)
    throw std::invalid_argument("assign_to_nearest: the centroids have " + std::to_string(centroids.cols) +
                                " features, the data " + std::to_string(x.cols));
  if (centroids.rows < 1) throw std::invalid_argument("assign_to_nearest: no centroids");
  const int64_t n = x.rows, k = centroids.rows;
  labels.assign(size_t(n), 0);
  std::vector<double> distances(static_cast<size_t>(n));
  const SquaredDistances kernel(centroids);
  const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
  parallel_workers(blocks, resolve_threads(threads), [&](int, const std::function<int64_t()>& next) {
    std::vector<double> block(size_t(kRowBlock * k));
    for (int64_t b = next(); b >= 0; b = next()) {
      const int64_t begin = b * kRowBlock, end = std::min(n, begin + kRowBlock);
      kernel.rows(x, begin, end, block.data());
      for (int64_t i = begin; i < end; ++i) {
        const double* row = block.data() + (i - begin) * k;
        int64_t best = 0;  // ascending order with a strict '<': ties go to the lowest index
        for (int64_t c = 1; c < k; ++c)
          if (row[c] < row[best]) best = c;
        labels[size_t(i)] = int(best);
        distances[size_t(i)] = row[best];
      }
    }
  });
  return distances;
}

double kmeans_inertia(const Matrix& x, const Matrix& centroids, const std::vector<int>& labels) {
  double total = 0;
  for (int64_t i = 0; i < x.rows; ++i) total += squared_distance(x.row(i), centroids.row(labels[size_t(i)]), x.cols);
  return total;
}

std::vector<int64_t> kmeans_plusplus_indices(const Matrix& x, int k, int local_trials, std::mt19937_64& gen,
                                             int threads) {
  const int64_t n = x.rows, d = x.cols;
  if (k < 1 || int64_t(k) > n)
    throw std::invalid_argument("k-means++: k = " + std::to_string(k) + " must be in 1.." + std::to_string(n));
  const int trials = local_trials > 0 ? local_trials : 2 + int(std::log(double(k)));
  const int workers = resolve_threads(threads);
  std::vector<int64_t> chosen;
  chosen.push_back(int64_t(uniform01(gen) * double(n)));
  std::vector<double> closest(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) closest[size_t(i)] = squared_distance(x.row(i), x.row(chosen[0]), d);
  double potential = std::accumulate(closest.begin(), closest.end(), 0.0);

  const std::vector<double> norms = SquaredDistances::row_norms(x);  // reused by every step's kernel
  std::vector<double> cumulative(static_cast<size_t>(n));
  std::vector<int64_t> candidates(static_cast<size_t>(trials));
  std::vector<std::vector<double>> candidate_closest(size_t(trials), std::vector<double>(static_cast<size_t>(n)));
  for (int c = 1; c < k; ++c) {
    std::partial_sum(closest.begin(), closest.end(), cumulative.begin());
    for (int t = 0; t < trials; ++t) {
      // np.searchsorted(cumsum, r) with side='left': the first index whose running sum reaches r.
      const double r = uniform01(gen) * potential;
      const int64_t at = std::lower_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin();
      candidates[size_t(t)] = std::min(at, n - 1);
    }
    Matrix candidate_rows(trials, d);
    for (int t = 0; t < trials; ++t)
      std::copy(x.row(candidates[size_t(t)]), x.row(candidates[size_t(t)]) + d, candidate_rows.row(t));
    const SquaredDistances kernel(candidate_rows);
    const int64_t blocks = (n + kRowBlock - 1) / kRowBlock;
    parallel_workers(blocks, workers, [&](int, const std::function<int64_t()>& next) {
      std::vector<double> block(size_t(kRowBlock * trials));
      for (int64_t b = next(); b >= 0; b = next()) {
        const int64_t begin = b * kRowBlock, end = std::min(n, begin + kRowBlock);
        kernel.rows(x, begin, end, block.data(), norms.data());
        for (int64_t i = begin; i < end; ++i)
          for (int t = 0; t < trials; ++t)
            candidate_closest[size_t(t)][size_t(i)] =
                std::min(closest[size_t(i)], block[size_t((i - begin) * trials + t)]);
      }
    });
    // A candidate's distance to itself is exactly 0; the expansion can leave rounding there, and a
    // chosen centre with a non-zero weight could be drawn again in a later step.
    for (int t = 0; t < trials; ++t) candidate_closest[size_t(t)][size_t(candidates[size_t(t)])] = 0.0;
    int best = 0;
    double best_potential = std::numeric_limits<double>::infinity();
    for (int t = 0; t < trials; ++t) {
      const double p = std::accumulate(candidate_closest[size_t(t)].begin(), candidate_closest[size_t(t)].end(), 0.0);
      if (p < best_potential) {
        best_potential = p;
        best = t;
      }
    }
    chosen.push_back(candidates[size_t(best)]);
    closest = candidate_closest[size_t(best)];
    potential = best_potential;
  }
  return chosen;
}

KMeansResult kmeans(const Matrix& x, int k, const KMeansOptions& options) {
  validate(x, k, options);
  const double tol_abs = absolute_tolerance(x, options.tol);
  // Every restart (k-means++ seeding, then Lloyd) draws from its own generator, seeded in restart
  // order from `options.seed`, so the restarts are independent and run one per worker thread (each
  // single-threaded): on 2 cores ~2x faster than splitting every step's rows, and the result does not
  // depend on the thread count (the best run is chosen in restart order).
  std::mt19937_64 gen(options.seed);
  std::vector<uint64_t> restart_seeds(size_t(options.n_init));
  for (auto& r : restart_seeds) r = gen();
  std::vector<Run> runs(size_t(options.n_init));
  const int workers = resolve_threads(options.threads);
  const int outer = std::min<int>(workers, options.n_init), inner = outer > 1 ? 1 : workers;
  parallel_workers(options.n_init, outer, [&](int, const std::function<int64_t()>& next) {
    for (int64_t i = next(); i >= 0; i = next()) {
      std::mt19937_64 restart_gen(restart_seeds[size_t(i)]);
      const std::vector<int64_t> seeds = kmeans_plusplus_indices(x, k, options.local_trials, restart_gen, inner);
      Matrix start(k, x.cols);
      for (int c = 0; c < k; ++c) std::copy(x.row(seeds[size_t(c)]), x.row(seeds[size_t(c)]) + x.cols, start.row(c));
      runs[size_t(i)] = lloyd(x, std::move(start), options.max_iter, tol_abs, inner);
    }
  });
  KMeansResult best;
  best.inertia = std::numeric_limits<double>::infinity();
  for (int init = 0; init < options.n_init; ++init) {
    Run& run = runs[size_t(init)];
    if (run.inertia < best.inertia) {  // strict: the earliest of equally good runs is kept
      best.centroids = std::move(run.centroids);
      best.labels = std::move(run.labels);
      best.inertia = run.inertia;
      best.iterations = run.iterations;
      best.best_init = init;
    }
  }
  return best;
}

}  // namespace jess::cells

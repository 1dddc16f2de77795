#pragma once
// k-means for the DTAE density tree (light header: no torch). DTAE quantises the data with
// scikit-learn's KMeans(n_clusters=K, random_state=0) and its defaults: greedy k-means++ seeding,
// n_init = 10 restarts keeping the lowest inertia, Lloyd iterations with max_iter = 300 and
// tol = 1e-4 relative to the data's mean per-feature variance (research brief, section A.2 step 1;
// checklist A.7). This is a re-implementation of that procedure, not a bit-exact copy of sklearn's
// random streams.
#include <cstdint>
#include <random>
#include <vector>

#include "jess/cells/matrix.h"

namespace jess::cells {

struct KMeansOptions {
  int n_init = 10;        // k-means++ restarts; the run with the lowest inertia is kept
  int max_iter = 300;     // Lloyd iterations per restart
  double tol = 1e-4;      // stop when the summed squared centroid shift <= tol * mean feature variance
  uint64_t seed = 0;      // seeds the std::mt19937_64 that drives every restart
  int threads = 0;        // worker threads for the assignment step; 0 = hardware concurrency
  // Candidates tried per k-means++ step; 0 = sklearn's 2 + floor(log(k)).
  int local_trials = 0;
};

struct KMeansResult {
  Matrix centroids;             // k x d
  std::vector<int> labels;      // one per point, 0..k-1 (nearest centroid; ties -> lowest index)
  double inertia = 0;           // sum of squared distances of the points to their centroid
  int iterations = 0;           // Lloyd iterations of the kept run
  int best_init = 0;            // which restart was kept (0-based)
};

// Clusters the rows of x into k groups. Throws std::invalid_argument when k < 1, k > rows, the data
// are empty or hold non-finite values, or an option is out of range (the message names it).
KMeansResult kmeans(const Matrix& x, int k, const KMeansOptions& options = {});

// Greedy k-means++ seeding alone (sklearn's _kmeans_plusplus): the first centre is a uniformly random
// point; each further centre is the best of `local_trials` candidates drawn with probability
// proportional to the squared distance to the nearest chosen centre, "best" meaning the one that
// lowers the total potential most. Returns the indices of the chosen points.
// local_trials = 0 means 2 + floor(log(k)).
std::vector<int64_t> kmeans_plusplus_indices(const Matrix& x, int k, int local_trials, std::mt19937_64& gen,
                                             int threads = 0);

// Squared Euclidean distance of every row of x to its nearest row of `centroids`; writes the index of
// that centroid to labels (ties -> lowest index) and returns the distances. Uses the expansion
// ||x||^2 - 2 x.c + ||c||^2 in row blocks (clamped at 0), so tiny distances carry rounding error;
// exact differences are used wherever a result is reported (inertia).
std::vector<double> assign_to_nearest(const Matrix& x, const Matrix& centroids, std::vector<int>& labels,
                                      int threads = 0);

// Sum over rows of ||x_i - centroids[labels_i]||^2, from exact differences.
double kmeans_inertia(const Matrix& x, const Matrix& centroids, const std::vector<int>& labels);

}  // namespace jess::cells

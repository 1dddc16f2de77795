#pragma once
// Embedding quality measures for DTAE and its baselines (light header: no torch). They are the
// team's proposals of research brief section A.6 (the paper's own table metrics could not be
// retrieved) and are computed the same way for any low-dimensional embedding (PCA, t-SNE, UMAP, a
// plain AE, DTAE), always against the same high-dimensional density tree:
//   (a) tree-consistency rate: does a point sit between the same two centroids in 2-D as in the data?
//   (b) Spearman correlation of tree hop distance and 2-D distance between centroids;
//   (c) k-NN preservation between the input space and the embedding;
//   (d) leave-one-out k-NN accuracy of a categorical label (e.g. the synthetic tree's branch).
#include <cstdint>
#include <string>
#include <vector>

#include "jess/cells/density_tree.h"
#include "jess/cells/matrix.h"

namespace jess::cells {

struct MetricsOptions {
  int k = 15;                 // neighbours for (c) and (d)
  double ghost_offset = 0.5;  // low-dim ghosts C_leaf + r (C_leaf - C_nbr): DTAE's loss uses r = 0.5 (A.4)
  // Exact k-NN costs O(n^2 d). With max_queries > 0 only that many points (a seeded uniform sample
  // without replacement) are scored in (c) and (d); their neighbours are still searched among all.
  int64_t max_queries = 0;
  uint64_t seed = 0;
  int threads = 0;  // 0 = hardware concurrency
};

// Low-dim centroids: C_k = mean of the embedding over the points with k-means label k (k < K), then
// one ghost per leaf, C_leaf + r (C_leaf - C_nbr), in the tree's ghost order: (K+L) x dims.
Matrix low_dim_centroids(const DensityTree& tree, const Matrix& embedding, double ghost_offset = 0.5);

struct TreeConsistency {
  double exact = 0;     // fraction of points whose two nearest low-dim centroids equal their pair P(i)
  double adjacent = 0;  // ... equal P(i), or are a tree edge sharing a centroid with P(i)
};
TreeConsistency tree_consistency(const DensityTree& tree, const Matrix& embedding, double ghost_offset = 0.5);

// Spearman correlation between the hop distance G[u, v] and ||C_u - C_v|| over all pairs u < v of
// original centroids (ghosts excluded), by jess::eval::spearman (average ranks for ties, as
// scipy.stats.spearmanr). NaN when either side is constant.
double tree_distance_correlation(const DensityTree& tree, const Matrix& embedding);

// Exact (brute-force) k nearest neighbours of the rows `queries` of x among all rows, the query
// itself excluded; ascending by squared Euclidean distance (SquaredDistances, distances.h), ties by
// index. One list of k indices per query. O(queries x rows x features).
std::vector<std::vector<int64_t>> nearest_neighbours(const Matrix& x, const std::vector<int64_t>& queries, int k,
                                                     int threads = 0);

// Mean over (query) points of |kNN_high(i) ∩ kNN_low(i)| / k.
double knn_preservation(const Matrix& high, const Matrix& low, const MetricsOptions& options = {});

// Leave-one-out k-NN classification accuracy of `labels` in the embedding: majority vote of the k
// nearest other points; a tied vote goes to the tied label that occurs nearest.
double knn_label_accuracy(const Matrix& embedding, const std::vector<std::string>& labels,
                          const MetricsOptions& options = {});

struct EmbeddingMetrics {
  TreeConsistency consistency;
  double tree_distance_spearman = 0;
  double knn_preservation = 0;
  double label_accuracy = -1;  // -1 when no labels were given
};
// All of the above for one embedding (labels may be empty).
EmbeddingMetrics evaluate_embedding(const Matrix& high, const DensityTree& tree, const Matrix& embedding,
                                    const std::vector<std::string>& labels = {}, const MetricsOptions& options = {});

}  // namespace jess::cells

#include "jess/cells/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <stdexcept>
#include <utility>

#include "jess/cells/distances.h"
#include "jess/core/parallel.h"
#include "jess/eval/correlation.h"

namespace jess::cells {
namespace {


void check_embedding(const DensityTree& tree, const Matrix& embedding) {
  if (int64_t(tree.labels.size()) != embedding.rows)
    throw std::invalid_argument("embedding has " + std::to_string(embedding.rows) + " points, the density tree " +
                                std::to_string(tree.labels.size()));
  if (embedding.cols < 1) throw std::invalid_argument("embedding has no dimensions");
}

// The points scored by (c) and (d): all, or a seeded sample without replacement (ascending).
std::vector<int64_t> query_points(int64_t n, const MetricsOptions& o) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t(0));
  if (o.max_queries <= 0 || o.max_queries >= n) return all;
  std::mt19937_64 gen(o.seed);
  for (int64_t i = 0; i < o.max_queries; ++i) {  // partial Fisher-Yates
    const double u = double(gen() >> 11) * 0x1.0p-53;
    const int64_t j = i + std::min(n - i - 1, int64_t(u * double(n - i)));
    std::swap(all[size_t(i)], all[size_t(j)]);
  }
  all.resize(size_t(o.max_queries));
  std::sort(all.begin(), all.end());
  return all;
}

}  // namespace

Matrix low_dim_centroids(const DensityTree& tree, const Matrix& embedding, double ghost_offset) {
  check_embedding(tree, embedding);
  const int k = tree.num_clusters, dims = int(embedding.cols);
  Matrix c(tree.num_vertices(), dims, 0.0);
  std::vector<int64_t> counts(size_t(k), 0);
  for (int64_t i = 0; i < embedding.rows; ++i) {
    const int label = tree.labels[size_t(i)];
    ++counts[size_t(label)];
    for (int j = 0; j < dims; ++j) c(label, j) += embedding(i, j);
  }
  for (int u = 0; u < k; ++u) {
    if (counts[size_t(u)] == 0)
      throw std::invalid_argument("low_dim_centroids: cluster " + std::to_string(u) + " has no points");
    for (int j = 0; j < dims; ++j) c(u, j) /= double(counts[size_t(u)]);
  }
  for (int g = 0; g < tree.num_ghosts; ++g) {
    const int leaf = tree.ghost_leaf[size_t(g)];
    // The leaf's one original neighbour: its neighbour list holds that and its ghost.
    int neighbour = -1;
    for (int v : tree.neighbours[size_t(leaf)])
      if (!tree.is_ghost(v)) neighbour = v;
    for (int j = 0; j < dims; ++j) c(k + g, j) = c(leaf, j) + ghost_offset * (c(leaf, j) - c(neighbour, j));
  }
  return c;
}

TreeConsistency tree_consistency(const DensityTree& tree, const Matrix& embedding, double ghost_offset) {
  const Matrix centroids = low_dim_centroids(tree, embedding, ghost_offset);
  const std::vector<CentroidPair> low = two_nearest_centroids(embedding, centroids);
  int64_t exact = 0, adjacent = 0;
  for (size_t i = 0; i < low.size(); ++i) {
    const CentroidPair& p = tree.pairs[i];
    const CentroidPair& q = low[i];
    if (p == q) {
      ++exact;
      ++adjacent;
      continue;
    }
    // A near miss: the point lies along a tree edge next to its own (the pairs share a centroid).
    const bool share = q.first == p.first || q.first == p.second || q.second == p.first || q.second == p.second;
    if (share && tree.hop(q.first, q.second) == 1) ++adjacent;
  }
  const double n = double(std::max<size_t>(1, low.size()));
  return {double(exact) / n, double(adjacent) / n};
}

double tree_distance_correlation(const DensityTree& tree, const Matrix& embedding) {
  const Matrix c = low_dim_centroids(tree, embedding, 0.5);
  std::vector<double> hops, distances;
  for (int u = 0; u < tree.num_clusters; ++u)
    for (int v = u + 1; v < tree.num_clusters; ++v) {
      hops.push_back(double(tree.hop(u, v)));
      double s = 0;
      for (int64_t j = 0; j < c.cols; ++j) s += (c(u, j) - c(v, j)) * (c(u, j) - c(v, j));
      distances.push_back(std::sqrt(s));
    }
  return jess::eval::spearman(hops, distances);
}

std::vector<std::vector<int64_t>> nearest_neighbours(const Matrix& x, const std::vector<int64_t>& queries, int k,
                                                     int threads) {
  const int64_t n = x.rows, d = x.cols;
  if (k < 1 || int64_t(k) >= n)
    throw std::invalid_argument("k-NN: k must be in 1..(points - 1) = 1.." + std::to_string(n - 1) + " (got " +
                                std::to_string(k) + ")");
  for (int64_t q : queries)
    if (q < 0 || q >= n) throw std::invalid_argument("k-NN: query index " + std::to_string(q) + " out of range");
  std::vector<std::vector<int64_t>> result(queries.size());
  const SquaredDistances kernel(x);
  const int64_t block = SquaredDistances::kMaxBlockRows;  // queries per work item
  const int64_t blocks = (int64_t(queries.size()) + block - 1) / block;
  parallel_workers(blocks, resolve_threads(threads), [&](int, const std::function<int64_t()>& next) {
    std::vector<double> distances(size_t(block * n));
    std::vector<std::pair<double, int64_t>> candidates(static_cast<size_t>(n));
    Matrix rows(block, d);
    for (int64_t b = next(); b >= 0; b = next()) {
      const int64_t first = b * block, count = std::min<int64_t>(int64_t(queries.size()) - first, block);
      for (int64_t r = 0; r < count; ++r)
        std::copy(x.row(queries[size_t(first + r)]), x.row(queries[size_t(first + r)]) + d, rows.row(r));
      kernel.rows(rows, 0, count, distances.data());
      for (int64_t r = 0; r < count; ++r) {
        const int64_t q = queries[size_t(first + r)];
        const double* dq = distances.data() + r * n;
        size_t m = 0;
        for (int64_t i = 0; i < n; ++i)
          if (i != q) candidates[m++] = {dq[i], i};  // (distance, index): ties go to the lower index
        std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.begin() + std::ptrdiff_t(m));
        auto& out = result[size_t(first + r)];
        out.resize(size_t(k));
        for (int j = 0; j < k; ++j) out[size_t(j)] = candidates[size_t(j)].second;
      }
    }
  });
  return result;
}

double knn_preservation(const Matrix& high, const Matrix& low, const MetricsOptions& o) {
  if (high.rows != low.rows)
    throw std::invalid_argument("k-NN preservation: " + std::to_string(high.rows) + " points in the data, " +
                                std::to_string(low.rows) + " in the embedding");
  const std::vector<int64_t> queries = query_points(high.rows, o);
  const auto a = nearest_neighbours(high, queries, o.k, o.threads);
  const auto b = nearest_neighbours(low, queries, o.k, o.threads);
  double total = 0;
  for (size_t q = 0; q < queries.size(); ++q) {
    std::vector<int64_t> sa = a[q], sb = b[q];
    std::sort(sa.begin(), sa.end());
    std::sort(sb.begin(), sb.end());
    std::vector<int64_t> common;
    std::set_intersection(sa.begin(), sa.end(), sb.begin(), sb.end(), std::back_inserter(common));
    total += double(common.size()) / double(o.k);
  }
  return total / double(queries.size());
}

double knn_label_accuracy(const Matrix& embedding, const std::vector<std::string>& labels, const MetricsOptions& o) {
  if (int64_t(labels.size()) != embedding.rows)
    throw std::invalid_argument("k-NN accuracy: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(embedding.rows) + " points");
  std::map<std::string, int> codes;
  std::vector<int> label(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) label[i] = codes.emplace(labels[i], int(codes.size())).first->second;
  const std::vector<int64_t> queries = query_points(embedding.rows, o);
  const auto neighbours = nearest_neighbours(embedding, queries, o.k, o.threads);
  int64_t correct = 0;
  std::vector<int> votes(codes.size()), first_seen(codes.size());
  for (size_t q = 0; q < queries.size(); ++q) {
    std::fill(votes.begin(), votes.end(), 0);
    std::fill(first_seen.begin(), first_seen.end(), std::numeric_limits<int>::max());
    for (int j = 0; j < o.k; ++j) {
      const int l = label[size_t(neighbours[q][size_t(j)])];
      ++votes[size_t(l)];
      first_seen[size_t(l)] = std::min(first_seen[size_t(l)], j);
    }
    int best = 0;
    for (int l = 1; l < int(votes.size()); ++l)
      if (votes[size_t(l)] > votes[size_t(best)] ||
          (votes[size_t(l)] == votes[size_t(best)] && first_seen[size_t(l)] < first_seen[size_t(best)]))
        best = l;
    correct += best == label[size_t(queries[q])];
  }
  return double(correct) / double(queries.size());
}

EmbeddingMetrics evaluate_embedding(const Matrix& high, const DensityTree& tree, const Matrix& embedding,
                                    const std::vector<std::string>& labels, const MetricsOptions& options) {
  EmbeddingMetrics m;
  m.consistency = tree_consistency(tree, embedding, options.ghost_offset);
  m.tree_distance_spearman = tree_distance_correlation(tree, embedding);
  m.knn_preservation = knn_preservation(high, embedding, options);
  if (!labels.empty()) m.label_accuracy = knn_label_accuracy(embedding, labels, options);
  return m;
}

}  // namespace jess::cells

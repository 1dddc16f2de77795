#include "jess/cells/density_tree.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>

#include <boost/graph/adjacency_list.hpp>
#include <boost/graph/kruskal_min_spanning_tree.hpp>

#include "jess/cells/distances.h"
#include "jess/core/parallel.h"

namespace jess::cells {
namespace {

// Boost's Kruskal pops edges from a binary heap ordered by std::greater on the weight, which is not
// stable, so equal weights would come out in an unspecified order. Giving Boost a weight that
// compares lexicographically on (weight, u, v) makes the order strict and the tree unique
// (brief A.2 step 4: "sort by (weight, u, v) for determinism").
struct EdgeKey {
  double weight = 0;
  int u = 0, v = 0;
  friend bool operator<(const EdgeKey& a, const EdgeKey& b) {
    if (a.weight != b.weight) return a.weight < b.weight;
    if (a.u != b.u) return a.u < b.u;
    return a.v < b.v;
  }
  friend bool operator>(const EdgeKey& a, const EdgeKey& b) { return b < a; }
  friend bool operator<=(const EdgeKey& a, const EdgeKey& b) { return !(b < a); }
  friend bool operator>=(const EdgeKey& a, const EdgeKey& b) { return !(a < b); }
};


}  // namespace

std::vector<WeightedEdge> minimum_spanning_tree(int n, const std::vector<WeightedEdge>& edges) {
  if (n < 1) throw std::invalid_argument("minimum_spanning_tree: the graph needs at least one vertex");
  using Graph = boost::adjacency_list<boost::vecS, boost::vecS, boost::undirectedS, boost::no_property,
                                      boost::property<boost::edge_weight_t, EdgeKey>>;
  Graph graph(static_cast<Graph::vertices_size_type>(n));
  for (const WeightedEdge& e : edges) {
    if (e.u < 0 || e.v < 0 || e.u >= n || e.v >= n || e.u == e.v)
      throw std::invalid_argument("minimum_spanning_tree: bad edge (" + std::to_string(e.u) + ", " +
                                  std::to_string(e.v) + ") for " + std::to_string(n) + " vertices");
    if (!std::isfinite(e.weight))
      throw std::invalid_argument("minimum_spanning_tree: edge (" + std::to_string(e.u) + ", " +
                                  std::to_string(e.v) + ") has a non-finite weight");
    const int u = std::min(e.u, e.v), v = std::max(e.u, e.v);
    boost::add_edge(Graph::vertex_descriptor(u), Graph::vertex_descriptor(v), EdgeKey{e.weight, u, v}, graph);
  }
  std::vector<Graph::edge_descriptor> tree;
  boost::kruskal_minimum_spanning_tree(graph, std::back_inserter(tree));
  if (int64_t(tree.size()) != int64_t(n) - 1)
    throw std::invalid_argument("minimum_spanning_tree: the graph is disconnected (" + std::to_string(tree.size()) +
                                " tree edges for " + std::to_string(n) + " vertices)");
  const auto weights = boost::get(boost::edge_weight, graph);
  std::vector<WeightedEdge> result;
  result.reserve(tree.size());
  for (const auto& e : tree) {
    const EdgeKey& key = weights[e];
    result.push_back({key.u, key.v, key.weight});
  }
  return result;
}

std::vector<int> hop_distances(const std::vector<std::vector<int>>& neighbours) {
  const size_t n = neighbours.size();
  std::vector<int> hops(n * n, -1);
  std::deque<int> queue;
  for (size_t source = 0; source < n; ++source) {
    int* row = hops.data() + source * n;
    row[source] = 0;
    queue.assign(1, int(source));
    while (!queue.empty()) {
      const int u = queue.front();
      queue.pop_front();
      for (int v : neighbours[size_t(u)]) {
        if (v < 0 || size_t(v) >= n) throw std::invalid_argument("hop_distances: neighbour index out of range");
        if (row[v] < 0) {
          row[v] = row[u] + 1;
          queue.push_back(v);
        }
      }
    }
  }
  return hops;
}

std::vector<CentroidPair> two_nearest_centroids(const Matrix& x, const Matrix& centroids, int threads) {
  if (centroids.rows < 2)
    throw std::invalid_argument("two_nearest_centroids: needs at least 2 centroids (got " +
                                std::to_string(centroids.rows) + ")");
  if (centroids.cols != x.cols)
    throw std::invalid_argument("two_nearest_centroids: the centroids have " + std::to_string(centroids.cols) +
                                " features, the data " + std::to_string(x.cols));
  const int64_t n = x.rows, k = centroids.rows, d = x.cols;
  std::vector<CentroidPair> pairs(static_cast<size_t>(n));
  constexpr int64_t block = 64;
  // Exact differences (not the norm expansion): the pair decides the tree, so near-ties should not be
  // decided by cancellation error. This runs once per tree, so the extra cost does not matter.
  parallel_workers((n + block - 1) / block, resolve_threads(threads), [&](int, const std::function<int64_t()>& next) {
    for (int64_t b = next(); b >= 0; b = next()) {
      for (int64_t i = b * block; i < std::min(n, (b + 1) * block); ++i) {
        double d1 = std::numeric_limits<double>::infinity(), d2 = d1;
        int c1 = -1, c2 = -1;
        const double* xi = x.row(i);
        for (int64_t c = 0; c < k; ++c) {
          const double* cr = centroids.row(c);
          double s = 0;
          for (int64_t j = 0; j < d; ++j) s += (xi[j] - cr[j]) * (xi[j] - cr[j]);
          if (s < d1) {
            d2 = d1;
            c2 = c1;
            d1 = s;
            c1 = int(c);
          } else if (s < d2) {
            d2 = s;
            c2 = int(c);
          }
        }
        pairs[size_t(i)] = {std::min(c1, c2), std::max(c1, c2)};
      }
    }
  });
  return pairs;
}

DensityTree build_density_tree_from_clusters(const Matrix& x, const Matrix& centroids, const std::vector<int>& labels,
                                             double ghost_offset, int threads) {
  const int k = int(centroids.rows);
  if (k < 2) throw std::invalid_argument("density tree: needs at least 2 clusters (got " + std::to_string(k) + ")");
  if (centroids.cols != x.cols)
    throw std::invalid_argument("density tree: the centroids have " + std::to_string(centroids.cols) +
                                " features, the data " + std::to_string(x.cols));
  if (int64_t(labels.size()) != x.rows)
    throw std::invalid_argument("density tree: " + std::to_string(labels.size()) + " labels for " +
                                std::to_string(x.rows) + " points");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i] < 0 || labels[i] >= k)
      throw std::invalid_argument("density tree: label " + std::to_string(labels[i]) + " of point " +
                                  std::to_string(i) + " is not a cluster 0.." + std::to_string(k - 1));
  if (!std::isfinite(ghost_offset))
    throw std::invalid_argument("density tree: ghost_offset must be finite");

  DensityTree tree;
  tree.num_clusters = k;
  tree.labels = labels;

  // Step 2: pair densities.
  tree.pairs = two_nearest_centroids(x, centroids, threads);
  std::vector<int64_t> counts(size_t(k) * size_t(k), 0);
  for (const CentroidPair& p : tree.pairs) ++counts[size_t(p.first) * size_t(k) + size_t(p.second)];

  // Steps 3-4: complete graph, weight 1/count (2 when unobserved, larger than any 1/count <= 1), MST.
  std::vector<WeightedEdge> complete;
  complete.reserve(size_t(k) * size_t(k - 1) / 2);
  for (int u = 0; u < k; ++u)
    for (int v = u + 1; v < k; ++v) {
      const int64_t c = counts[size_t(u) * size_t(k) + size_t(v)];
      complete.push_back({u, v, c > 0 ? 1.0 / double(c) : 2.0});
    }
  std::vector<WeightedEdge> mst = minimum_spanning_tree(k, complete);
  std::sort(mst.begin(), mst.end(), [](const WeightedEdge& a, const WeightedEdge& b) {
    return a.u != b.u ? a.u < b.u : a.v < b.v;
  });
  tree.neighbours.assign(size_t(k), {});
  for (const WeightedEdge& e : mst) {
    tree.edges.push_back({e.u, e.v, counts[size_t(e.u) * size_t(k) + size_t(e.v)], false});
    tree.neighbours[size_t(e.u)].push_back(e.v);
    tree.neighbours[size_t(e.v)].push_back(e.u);
  }

  // Step 5: ghosts at the leaves, in ascending leaf order.
  std::vector<int> leaves;
  for (int u = 0; u < k; ++u)
    if (tree.neighbours[size_t(u)].size() == 1) leaves.push_back(u);
  tree.num_ghosts = int(leaves.size());
  tree.centroids = Matrix(k + tree.num_ghosts, x.cols);
  std::copy(centroids.data.begin(), centroids.data.end(), tree.centroids.data.begin());
  std::vector<bool> is_leaf(size_t(k), false);
  for (int g = 0; g < tree.num_ghosts; ++g) {
    const int leaf = leaves[size_t(g)], neighbour = tree.neighbours[size_t(leaf)][0], ghost = k + g;
    is_leaf[size_t(leaf)] = true;
    for (int64_t j = 0; j < x.cols; ++j)
      tree.centroids(ghost, j) = centroids(leaf, j) + ghost_offset * (centroids(leaf, j) - centroids(neighbour, j));
    tree.edges.push_back({leaf, ghost, 0, true});
    tree.neighbours[size_t(leaf)].push_back(ghost);
    tree.neighbours.push_back({leaf});
    tree.ghost_leaf.push_back(leaf);
  }
  for (auto& list : tree.neighbours) std::sort(list.begin(), list.end());

  // Step 6: points of leaf clusters take their two nearest among all K+L centroids (maybe a ghost).
  if (tree.num_ghosts > 0) {
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < x.rows; ++i)
      if (is_leaf[size_t(labels[size_t(i)])]) rows.push_back(i);
    Matrix subset(int64_t(rows.size()), x.cols);
    for (size_t r = 0; r < rows.size(); ++r) std::copy(x.row(rows[r]), x.row(rows[r]) + x.cols, subset.row(int64_t(r)));
    const std::vector<CentroidPair> reassigned = two_nearest_centroids(subset, tree.centroids, threads);
    for (size_t r = 0; r < rows.size(); ++r) tree.pairs[size_t(rows[r])] = reassigned[r];
  }

  // Steps 7-8: hop matrix and the degree-2 triplets.
  tree.hops = hop_distances(tree.neighbours);
  for (int i = 0; i < k; ++i)
    if (tree.neighbours[size_t(i)].size() == 2)
      tree.triplets.push_back({tree.neighbours[size_t(i)][0], i, tree.neighbours[size_t(i)][1]});
  return tree;
}

DensityTree build_density_tree(const Matrix& x, const DensityTreeOptions& options) {
  if (options.num_clusters < 2)
    throw std::invalid_argument("density tree: num_clusters must be at least 2 (got " +
                                std::to_string(options.num_clusters) + ")");
  if (int64_t(options.num_clusters) > x.rows)
    throw std::invalid_argument("density tree: num_clusters = " + std::to_string(options.num_clusters) +
                                " exceeds the number of points (" + std::to_string(x.rows) + ")");
  const KMeansResult clusters = kmeans(x, options.num_clusters, options.kmeans);
  return build_density_tree_from_clusters(x, clusters.centroids, clusters.labels, options.ghost_offset,
                                          options.kmeans.threads);
}

}  // namespace jess::cells

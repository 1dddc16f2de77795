#pragma once
// The DTAE density tree (light header: no torch): the "Groundtruth" of hci-unihd/DTAE
// (initialization.py), as described in the research brief, section A.2:
//   1. k-means centroids c_0..c_{K-1} and labels (kmeans.h);
//   2. every point's two nearest centroids as a sorted pair; the "density" of a pair is the number of
//      points whose two nearest centroids are exactly that pair (competitive Hebbian learning);
//   3. the complete graph on the centroids with weight 1/count (2 for pairs no point has);
//   4. its minimum spanning tree (= maximum spanning tree on the counts), ties broken by (weight, u, v);
//   5. one ghost centroid per leaf, g = c_leaf + 0.1 (c_leaf - c_neighbour), ids K..K+L-1 in
//      ascending leaf order, joined to its leaf;
//   6. points whose k-means label is a leaf get their pair recomputed among all K+L centroids;
//   7. all-pairs hop counts on the augmented tree (BFS, unweighted);
//   8. triplets (a, i, b) for every original vertex i < K of degree exactly 2 in the augmented tree.
#include <cstdint>
#include <utility>
#include <vector>

#include "jess/cells/kmeans.h"
#include "jess/cells/matrix.h"

namespace jess::cells {

struct CentroidPair {
  int first = 0, second = 0;  // first < second
  bool operator==(const CentroidPair& o) const { return first == o.first && second == o.second; }
  bool operator!=(const CentroidPair& o) const { return !(*this == o); }
};

struct TreeEdge {
  int u = 0, v = 0;     // u < v
  int64_t count = 0;    // points whose two nearest original centroids are {u, v}; 0 for ghost edges
  bool ghost = false;   // a leaf-ghost edge (step 5) rather than an MST edge
};

struct Triplet {
  int a = 0, i = 0, b = 0;  // i has exactly the neighbours a < b in the augmented tree
};

struct DensityTree {
  int num_clusters = 0;           // K
  int num_ghosts = 0;             // L (= number of leaves of the MST)
  Matrix centroids;               // (K+L) x d: k-means centroids, then the ghosts
  std::vector<int> labels;        // k-means label per point, 0..K-1
  std::vector<CentroidPair> pairs;           // per point: its stored pair P(i) after step 6
  std::vector<TreeEdge> edges;               // the K-1 MST edges (sorted by (u, v)), then the L ghost edges
  std::vector<std::vector<int>> neighbours;  // augmented tree adjacency, each list ascending
  std::vector<int> hops;                     // (K+L) x (K+L) hop counts, row-major
  std::vector<Triplet> triplets;             // ascending by i
  std::vector<int> ghost_leaf;               // ghost id K+g -> its leaf

  int num_vertices() const { return num_clusters + num_ghosts; }
  int hop(int u, int v) const { return hops[size_t(u) * size_t(num_vertices()) + size_t(v)]; }
  bool is_ghost(int vertex) const { return vertex >= num_clusters; }
};

struct DensityTreeOptions {
  int num_clusters = 50;            // K: 50 in every shipped DTAE experiment (brief A.2 step 1)
  double ghost_offset = 0.1;        // r in g = c_leaf + r (c_leaf - c_neighbour) (high-dim ghosts)
  KMeansOptions kmeans;             // sklearn defaults; the reference used random_state = 0
};

// k-means with options.kmeans, then build_density_tree_from_clusters.
DensityTree build_density_tree(const Matrix& x, const DensityTreeOptions& options = {});

// Steps 2-8 from given centroids (K x d, K >= 2) and labels (one per point, 0..K-1).
DensityTree build_density_tree_from_clusters(const Matrix& x, const Matrix& centroids, const std::vector<int>& labels,
                                             double ghost_offset = 0.1, int threads = 0);

// Every row's two nearest rows of `centroids` (squared Euclidean; ties -> lowest index) as a sorted
// pair. Needs at least two centroids.
std::vector<CentroidPair> two_nearest_centroids(const Matrix& x, const Matrix& centroids, int threads = 0);

struct WeightedEdge {
  int u = 0, v = 0;  // u < v after normalisation by minimum_spanning_tree
  double weight = 0;
};

// Kruskal's minimum spanning tree (Boost Graph) of an undirected graph on vertices 0..n-1. Ties are
// broken deterministically: edges are compared by (weight, min(u,v), max(u,v)), so the result is the
// unique MST under that strict order. Returns its edges (u < v) in acceptance order, i.e. ascending
// by that key. Throws if the graph is disconnected (the result would be a forest).
std::vector<WeightedEdge> minimum_spanning_tree(int n, const std::vector<WeightedEdge>& edges);

// All-pairs hop counts (BFS) of an undirected graph given by adjacency lists, row-major n x n;
// -1 for unreachable pairs.
std::vector<int> hop_distances(const std::vector<std::vector<int>>& neighbours);

}  // namespace jess::cells

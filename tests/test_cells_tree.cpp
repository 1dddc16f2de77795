// cells package: k-means, the DTAE density tree, the synthetic PHATE-style tree, scanpy-style
// preprocessing and the embedding metrics. Reference values marked "scipy"/"sklearn"/"scanpy recipe"
// were computed once with /usr/bin/python3 (scipy 1.10.1, scikit-learn 1.2.1, pandas) and are pasted
// as numbers.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "jess/cells/density_tree.h"
#include "jess/cells/kmeans.h"
#include "jess/cells/metrics.h"
#include "jess/cells/preprocess.h"
#include "jess/cells/synthetic.h"
#include "jess/eval/correlation.h"

using namespace jess::cells;

namespace {

// ---- helpers ------------------------------------------------------------------------------------

struct UnionFind {
  std::vector<int> parent;
  explicit UnionFind(int n) : parent(size_t(n)) { std::iota(parent.begin(), parent.end(), 0); }
  int find(int a) { return parent[size_t(a)] == a ? a : parent[size_t(a)] = find(parent[size_t(a)]); }
  bool join(int a, int b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    parent[size_t(a)] = b;
    return true;
  }
};

// The documented tie-break order of minimum_spanning_tree: (weight, min(u,v), max(u,v)).
using EdgeKey = std::tuple<double, int, int>;
EdgeKey key_of(const WeightedEdge& e) { return {e.weight, std::min(e.u, e.v), std::max(e.u, e.v)}; }

Matrix from_rows(const std::vector<std::vector<double>>& rows) {
  Matrix m(int64_t(rows.size()), int64_t(rows[0].size()));
  for (size_t i = 0; i < rows.size(); ++i)
    for (size_t j = 0; j < rows[i].size(); ++j) m(int64_t(i), int64_t(j)) = rows[i][j];
  return m;
}

// The two nearest rows of `centroids` to point p, by brute force (exact distances), as a sorted pair.
CentroidPair brute_two_nearest(const Matrix& x, int64_t p, const Matrix& centroids) {
  std::vector<std::pair<double, int>> d;
  for (int64_t c = 0; c < centroids.rows; ++c) {
    double s = 0;
    for (int64_t j = 0; j < x.cols; ++j) s += (x(p, j) - centroids(c, j)) * (x(p, j) - centroids(c, j));
    d.push_back({s, int(c)});
  }
  std::sort(d.begin(), d.end());
  return {std::min(d[0].second, d[1].second), std::max(d[0].second, d[1].second)};
}

// ---- minimum spanning tree -----------------------------------------------------------------------

TEST(DensityTreeMst, BoostKruskalEqualsBruteForceMinimumAndDocumentedTieBreak) {
  std::mt19937_64 gen(11);
  for (int trial = 0; trial < 48; ++trial) {
    const int n = 4 + trial % 3;
    const bool ties = (trial / 3) % 2 == 1;  // weights from {1, 2, 3}: many equal-weight spanning trees
    std::vector<WeightedEdge> edges;
    for (int u = 0; u < n; ++u)
      for (int v = u + 1; v < n; ++v) {
        const double w = ties ? double(1 + gen() % 3) : double(gen() % 1000000) / 1000000.0;
        edges.push_back(gen() % 2 ? WeightedEdge{u, v, w} : WeightedEdge{v, u, w});  // either orientation
      }
    std::shuffle(edges.begin(), edges.end(), gen);  // input order must not matter
    const std::vector<WeightedEdge> tree = minimum_spanning_tree(n, edges);
    ASSERT_EQ(int(tree.size()), n - 1);
    UnionFind uf(n);
    double tree_weight = 0;
    std::vector<EdgeKey> tree_keys;
    for (const WeightedEdge& e : tree) {
      EXPECT_LT(e.u, e.v);
      EXPECT_TRUE(uf.join(e.u, e.v)) << "the result has a cycle";
      tree_weight += e.weight;
      tree_keys.push_back(key_of(e));
    }
    EXPECT_TRUE(std::is_sorted(tree_keys.begin(), tree_keys.end())) << "edges come in acceptance order";

    // Every subset of n-1 edges that connects the graph is a spanning tree.
    const int m = int(edges.size());
    double best = 1e300;
    int spanning = 0;
    for (uint32_t mask = 0; mask < (1u << m); ++mask) {
      if (__builtin_popcount(mask) != n - 1) continue;
      UnionFind f(n);
      bool acyclic = true;
      double w = 0;
      std::vector<EdgeKey> keys;
      for (int e = 0; e < m; ++e)
        if (mask >> e & 1) {
          acyclic = acyclic && f.join(edges[size_t(e)].u, edges[size_t(e)].v);
          w += edges[size_t(e)].weight;
          keys.push_back(key_of(edges[size_t(e)]));
        }
      if (!acyclic) continue;
      ++spanning;
      best = std::min(best, w);
      // With a strict edge order the greedy tree is Gale-optimal: its i-th smallest key is <= the
      // i-th smallest key of every spanning tree. That pins it down as the unique minimum under
      // (weight, u, v), i.e. the documented tie-break.
      std::sort(keys.begin(), keys.end());
      for (int i = 0; i < n - 1; ++i) ASSERT_LE(tree_keys[size_t(i)], keys[size_t(i)]) << "trial " << trial;
    }
    EXPECT_EQ(spanning, int(std::pow(n, n - 2))) << "Cayley: the enumeration saw every spanning tree";
    EXPECT_NEAR(tree_weight, best, 1e-12) << "trial " << trial;
  }
}

TEST(DensityTreeMst, EqualWeightsGiveTheLexicographicallyFirstTree) {
  // All weights equal: Kruskal in (u, v) order accepts (0,1), (0,2), (0,3): the star at 0.
  std::vector<WeightedEdge> all;
  for (int u = 3; u >= 0; --u)
    for (int v = 3; v > u; --v) all.push_back({v, u, 1.0});
  const auto star = minimum_spanning_tree(4, all);
  ASSERT_EQ(star.size(), 3u);
  EXPECT_EQ(std::make_pair(star[0].u, star[0].v), std::make_pair(0, 1));
  EXPECT_EQ(std::make_pair(star[1].u, star[1].v), std::make_pair(0, 2));
  EXPECT_EQ(std::make_pair(star[2].u, star[2].v), std::make_pair(0, 3));
  // A 4-cycle of weight 1 with heavy chords: (0,1), (0,3), (1,2) are taken, (2,3) closes the cycle.
  const auto cycle = minimum_spanning_tree(4, {{2, 3, 1}, {1, 2, 1}, {0, 3, 1}, {0, 1, 1}, {0, 2, 5}, {1, 3, 5}});
  ASSERT_EQ(cycle.size(), 3u);
  std::set<std::pair<int, int>> got;
  for (const auto& e : cycle) got.insert({e.u, e.v});
  EXPECT_EQ(got, (std::set<std::pair<int, int>>{{0, 1}, {0, 3}, {1, 2}}));
  EXPECT_THROW(minimum_spanning_tree(4, {{0, 1, 1}, {2, 3, 1}}), std::invalid_argument);  // disconnected
  EXPECT_THROW(minimum_spanning_tree(3, {{0, 0, 1}}), std::invalid_argument);             // self-loop
}

TEST(DensityTreeMst, HopDistancesAreBreadthFirstCounts) {
  // Path 0-1-2 plus 1-3, and an isolated vertex 4.
  const std::vector<int> hops = hop_distances({{1}, {0, 2, 3}, {1}, {1}, {}});
  EXPECT_EQ(hops[0 * 5 + 2], 2);
  EXPECT_EQ(hops[2 * 5 + 3], 2);
  EXPECT_EQ(hops[3 * 5 + 1], 1);
  EXPECT_EQ(hops[1 * 5 + 1], 0);
  EXPECT_EQ(hops[0 * 5 + 4], -1);
}

// ---- k-means -------------------------------------------------------------------------------------

struct Blobs {
  Matrix x;
  std::vector<int> truth;
  Matrix means;
  double optimum = 0;  // sum of squared deviations of every blob from its own mean
};

Blobs make_blobs(int per_blob, uint64_t seed) {
  const double centres[5][3] = {{0, 0, 0}, {40, 0, 0}, {0, 40, 0}, {0, 0, 40}, {40, 40, 40}};
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  Blobs b;
  b.x = Matrix(5 * per_blob, 3);
  for (int64_t i = 0; i < b.x.rows; ++i) {  // interleaved, so blob order != point order
    const int blob = int(i % 5);
    b.truth.push_back(blob);
    for (int j = 0; j < 3; ++j) b.x(i, j) = centres[blob][j] + normal(gen);
  }
  b.means = Matrix(5, 3, 0.0);
  for (int64_t i = 0; i < b.x.rows; ++i)
    for (int j = 0; j < 3; ++j) b.means(b.truth[size_t(i)], j) += b.x(i, j) / per_blob;
  for (int64_t i = 0; i < b.x.rows; ++i)
    for (int j = 0; j < 3; ++j) b.optimum += std::pow(b.x(i, j) - b.means(b.truth[size_t(i)], j), 2);
  return b;
}

TEST(KMeans, RecoversSeparatedBlobsWithTheOptimalInertia) {
  const Blobs b = make_blobs(40, 3);
  for (uint64_t seed : {0u, 1u, 2u, 3u, 4u}) {
    KMeansOptions o;
    o.seed = seed;
    const KMeansResult r = kmeans(b.x, 5, o);
    ASSERT_EQ(r.labels.size(), size_t(b.x.rows));
    // The partition is the true one: one label per blob, and distinct labels for distinct blobs.
    std::map<int, int> label_of_blob;
    for (size_t i = 0; i < r.labels.size(); ++i) {
      auto it = label_of_blob.emplace(b.truth[i], r.labels[i]).first;
      ASSERT_EQ(it->second, r.labels[i]) << "blob " << b.truth[i] << " split (seed " << seed << ")";
    }
    std::set<int> distinct;
    for (auto& [blob, label] : label_of_blob) distinct.insert(label);
    EXPECT_EQ(distinct.size(), 5u);
    EXPECT_NEAR(r.inertia, b.optimum, 1e-9 * b.optimum) << "seed " << seed;
    for (auto& [blob, label] : label_of_blob)
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(r.centroids(label, j), b.means(blob, j), 1e-9);
    EXPECT_GE(r.iterations, 1);
  }
}

TEST(KMeans, DeterministicAcrossThreadCountsAndKEqualsNIsExact) {
  const Blobs b = make_blobs(30, 9);
  KMeansOptions one, two;
  one.threads = 1;
  two.threads = 2;
  one.seed = two.seed = 5;
  const KMeansResult a = kmeans(b.x, 7, one), c = kmeans(b.x, 7, two);  // 7 clusters on 5 blobs
  EXPECT_EQ(a.labels, c.labels);
  EXPECT_EQ(a.inertia, c.inertia);
  EXPECT_EQ(a.centroids.data, c.centroids.data);
  EXPECT_LT(a.inertia, b.optimum) << "more clusters than blobs must fit better";

  // k = n: k-means++ never re-picks a chosen point (its weight is 0), so every point is a centroid.
  Matrix small(12, 2);
  for (int64_t i = 0; i < 12; ++i) {
    small(i, 0) = double(i * i % 7);
    small(i, 1) = double(i);
  }
  const KMeansResult all = kmeans(small, 12);
  EXPECT_EQ(all.inertia, 0.0);
  EXPECT_EQ(std::set<int>(all.labels.begin(), all.labels.end()).size(), 12u);
}

TEST(KMeans, RejectsBadArgumentsWithClearMessages) {
  const Blobs b = make_blobs(2, 1);  // 10 points
  EXPECT_THROW(kmeans(b.x, 0), std::invalid_argument);
  try {
    kmeans(b.x, 11);
    FAIL() << "k > n accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("exceeds the number of points (10)"), std::string::npos) << e.what();
  }
  KMeansOptions o;
  o.n_init = 0;
  EXPECT_THROW(kmeans(b.x, 2, o), std::invalid_argument);
  Matrix bad = b.x;
  bad(3, 1) = std::nan("");
  EXPECT_THROW(kmeans(bad, 2), std::invalid_argument);
}

// ---- density tree --------------------------------------------------------------------------------

// Six centroids on a line, 10 apart; their ids along the line are kChainIds (not in index order).
// Four points per centroid at x offsets -3.25, -1.125, 1.125, 3.25 with y = +-0.5 (exact in binary),
// so the cluster means equal the centroids exactly.
const int kChainIds[6] = {3, 0, 5, 1, 4, 2};

struct Chain {
  Matrix x, centroids;
  std::vector<int> labels;
  std::vector<int> position_of;  // centroid id -> position along the line
};

Chain make_chain() {
  Chain c;
  c.centroids = Matrix(6, 2, 0.0);
  c.position_of.assign(6, 0);
  for (int p = 0; p < 6; ++p) {
    c.centroids(kChainIds[p], 0) = 10.0 * p;
    c.position_of[size_t(kChainIds[p])] = p;
  }
  const double offsets[4] = {-3.25, -1.125, 1.125, 3.25}, ys[4] = {0.5, -0.5, -0.5, 0.5};
  c.x = Matrix(24, 2);
  for (int p = 0; p < 6; ++p)
    for (int t = 0; t < 4; ++t) {
      c.x(4 * p + t, 0) = 10.0 * p + offsets[t];
      c.x(4 * p + t, 1) = ys[t];
      c.labels.push_back(kChainIds[p]);
    }
  return c;
}

TEST(DensityTree, ChainOfClustersGivesThePathWithGhostsHopsAndTriplets) {
  const Chain c = make_chain();
  const DensityTree t = build_density_tree_from_clusters(c.x, c.centroids, c.labels);
  ASSERT_EQ(t.num_clusters, 6);
  ASSERT_EQ(t.num_ghosts, 2);
  ASSERT_EQ(t.num_vertices(), 8);

  // MST = the path along the line, with the pair counts: 4 per edge, plus 2 at each end from the
  // outer points of the end clusters (whose second nearest is also their only neighbour).
  int mst_edges = 0;
  for (const TreeEdge& e : t.edges) {
    if (e.ghost) continue;
    ++mst_edges;
    const int pu = c.position_of[size_t(e.u)], pv = c.position_of[size_t(e.v)];
    EXPECT_EQ(std::abs(pu - pv), 1) << "edge " << e.u << "-" << e.v << " is not on the path";
    const int left = std::min(pu, pv);
    EXPECT_EQ(e.count, 4 + (left == 0 ? 2 : 0) + (left == 4 ? 2 : 0));
  }
  EXPECT_EQ(mst_edges, 5);

  // Ghosts in ascending leaf order: the leaves are ids 2 (x = 50) and 3 (x = 0).
  EXPECT_EQ(t.ghost_leaf, (std::vector<int>{2, 3}));
  EXPECT_DOUBLE_EQ(t.centroids(6, 0), 50 + 0.1 * (50 - 40));  // c_2 + 0.1 (c_2 - c_4)
  EXPECT_DOUBLE_EQ(t.centroids(6, 1), 0.0);
  EXPECT_DOUBLE_EQ(t.centroids(7, 0), 0 + 0.1 * (0 - 10));  // c_3 + 0.1 (c_3 - c_0)
  int ghost_edges = 0;
  for (const TreeEdge& e : t.edges)
    if (e.ghost) {
      ++ghost_edges;
      EXPECT_EQ(t.ghost_leaf[size_t(e.v - 6)], e.u);
    }
  EXPECT_EQ(ghost_edges, 2);

  // Hops = |i - j| along the augmented path ghost7, 3, 0, 5, 1, 4, 2, ghost6.
  const std::vector<int> path = {7, 3, 0, 5, 1, 4, 2, 6};
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) EXPECT_EQ(t.hop(path[size_t(i)], path[size_t(j)]), std::abs(i - j));

  // Every original vertex has degree 2 in the augmented path, the leaves included (A.2 step 8).
  ASSERT_EQ(t.triplets.size(), 6u);
  for (const Triplet& tr : t.triplets) {
    const int p = int(std::find(path.begin(), path.end(), tr.i) - path.begin());
    EXPECT_EQ(std::set<int>({tr.a, tr.b}), std::set<int>({path[size_t(p - 1)], path[size_t(p + 1)]}));
    EXPECT_LT(tr.a, tr.b);
  }

  // Pairs: two nearest of the K originals, except for points of leaf clusters: of all K + L.
  const Matrix originals = c.centroids;
  for (int64_t i = 0; i < c.x.rows; ++i) {
    const bool leaf = c.labels[size_t(i)] == 2 || c.labels[size_t(i)] == 3;
    EXPECT_EQ(t.pairs[size_t(i)], brute_two_nearest(c.x, i, leaf ? t.centroids : originals)) << "point " << i;
  }
  // The leaf points lying towards their ghost are now paired with it.
  EXPECT_EQ(t.pairs[0], (CentroidPair{3, 7}));
  EXPECT_EQ(t.pairs[23], (CentroidPair{2, 6}));
}

TEST(DensityTree, BranchPointIsExcludedFromTriplets) {
  // A "Y": centre 0 and three arms at 0, 120 and 240 degrees with centroids at radius 10 and 20.
  Matrix centroids(7, 2, 0.0);
  const double pi = std::acos(-1.0);
  for (int a = 0; a < 3; ++a)
    for (int r = 1; r <= 2; ++r) {
      centroids(1 + 2 * a + (r - 1), 0) = 10.0 * r * std::cos(2 * pi * a / 3);
      centroids(1 + 2 * a + (r - 1), 1) = 10.0 * r * std::sin(2 * pi * a / 3);
    }
  std::vector<std::vector<double>> rows;
  const double radii[] = {1.1, 3.3, 6.7, 8.9, 11.1, 13.3, 16.7, 18.9, 21.1, 23.3};
  for (int a = 0; a < 3; ++a)
    for (size_t k = 0; k < std::size(radii); ++k) {
      const double side = k % 2 ? 0.3 : -0.3, angle = 2 * pi * a / 3;
      rows.push_back({radii[k] * std::cos(angle) - side * std::sin(angle), radii[k] * std::sin(angle) + side * std::cos(angle)});
    }
  const Matrix x = from_rows(rows);
  std::vector<int> labels;
  assign_to_nearest(x, centroids, labels, 1);
  const DensityTree t = build_density_tree_from_clusters(x, centroids, labels);
  std::set<std::pair<int, int>> mst;
  for (const TreeEdge& e : t.edges)
    if (!e.ghost) mst.insert({e.u, e.v});
  EXPECT_EQ(mst, (std::set<std::pair<int, int>>{{0, 1}, {0, 3}, {0, 5}, {1, 2}, {3, 4}, {5, 6}}));
  EXPECT_EQ(t.ghost_leaf, (std::vector<int>{2, 4, 6}));
  std::vector<int> centres;
  for (const Triplet& tr : t.triplets) centres.push_back(tr.i);
  EXPECT_EQ(centres, (std::vector<int>{1, 2, 3, 4, 5, 6})) << "the degree-3 centre 0 has no triplet";
  EXPECT_EQ(t.hop(2, 6), 4);
  EXPECT_EQ(t.hop(7, 9), 6);  // ghost to ghost across the centre
}

TEST(DensityTree, RecoversTheBranchesOfTheSyntheticTree) {
  // 5 branches x 300 points in 100-D (sigma 4, as gen_dla), K = 25. Checked: (i) the clusters are
  // branch-pure (> 80% of a cluster's points from one branch) for at least 20 of the 25 centroids —
  // clusters at an attachment point legitimately mix the branch with branch 0; (ii) for at least 4 of
  // the 5 branches, the centroids that branch dominates form a connected subtree of the density tree
  // (the tree follows the branch instead of jumping between branches). Tuning run over seeds 1-12:
  // 21-23 pure centroids and 4-5 connected branches every time; seeds 1-3 are checked here.
  for (uint64_t seed : {1u, 2u, 3u}) {
    SyntheticTreeOptions so;
    so.n_branch = 5;
    so.branch_length = 300;
    so.seed = seed;
    const CellData data = synthetic_tree(so);
    DensityTreeOptions o;
    o.num_clusters = 25;
    o.kmeans.n_init = 3;
    const DensityTree t = build_density_tree(data.x, o);
    const auto& branch = data.annotation("branch").values;
    std::vector<std::map<std::string, int>> counts(25);
    for (size_t i = 0; i < branch.size(); ++i) ++counts[size_t(t.labels[i])][branch[i]];
    int pure = 0;
    std::vector<int> owner(25);
    for (int c = 0; c < 25; ++c) {
      int total = 0, top = 0;
      for (auto& [b, n] : counts[size_t(c)]) {
        total += n;
        if (n > top) {
          top = n;
          owner[size_t(c)] = std::stoi(b);
        }
      }
      pure += top > 0.8 * total;
    }
    EXPECT_GE(pure, 20) << "seed " << seed;
    int connected = 0;
    for (int b = 0; b < 5; ++b) {
      UnionFind uf(25);
      int members = 0;
      for (int c = 0; c < 25; ++c) members += owner[size_t(c)] == b;
      int joins = 0;
      for (const TreeEdge& e : t.edges)
        if (!e.ghost && owner[size_t(e.u)] == b && owner[size_t(e.v)] == b) joins += uf.join(e.u, e.v);
      connected += members > 0 && joins == members - 1;  // a forest on `members` vertices with one component
    }
    EXPECT_GE(connected, 4) << "seed " << seed;
  }
}

// ---- synthetic tree ------------------------------------------------------------------------------

TEST(SyntheticTree, BranchesAreWalksAttachedToBranchZeroAndScaledToUnitRange) {
  SyntheticTreeOptions o;
  o.n_branch = 4;
  o.branch_length = 50;
  o.n_dim = 7;
  o.sigma = 0;  // no noise, no scaling: the walk structure is exact
  o.min_max_scale = false;
  const CellData d = synthetic_tree(o);
  ASSERT_EQ(d.x.rows, 200);
  ASSERT_EQ(d.x.cols, 7);
  const auto& branch = d.annotation("branch");
  const auto& position = d.annotation("position");
  const auto& attached = d.annotation("attached_at");
  EXPECT_FALSE(branch.numeric);
  EXPECT_TRUE(position.numeric);
  for (int64_t i = 0; i < 200; ++i) {
    EXPECT_EQ(branch.values[size_t(i)], std::to_string(i / 50));
    EXPECT_EQ(position.numbers[size_t(i)], double(i % 50));
    // Each row is one uniform [-1, 1) step from the previous point of its walk (for the first row
    // of a branch > 0: from its attachment point on branch 0; for row 0: from the origin).
    int64_t previous = -1;
    if (i % 50 != 0) previous = i - 1;
    else if (i >= 50) previous = int64_t(attached.numbers[size_t(i)]);
    for (int j = 0; j < 7; ++j) {
      const double step = d.x(i, j) - (previous >= 0 ? d.x(previous, j) : 0.0);
      EXPECT_GE(step, -1.0);
      EXPECT_LT(step, 1.0 + 1e-12);
    }
  }
  EXPECT_TRUE(std::isnan(attached.numbers[0]));
  const double at = attached.numbers[60];
  EXPECT_TRUE(at >= 0 && at < 50);

  const CellData scaled = synthetic_tree({3, 40, 5, 4.0, true, 9});
  EXPECT_EQ(*std::min_element(scaled.x.data.begin(), scaled.x.data.end()), 0.0);
  EXPECT_EQ(*std::max_element(scaled.x.data.begin(), scaled.x.data.end()), 1.0);
  EXPECT_EQ(synthetic_tree({3, 40, 5, 4.0, true, 9}).x.data, scaled.x.data) << "seeded";
  EXPECT_NE(synthetic_tree({3, 40, 5, 4.0, true, 10}).x.data, scaled.x.data);
  EXPECT_THROW(synthetic_tree({0, 40, 5, 4.0, true, 9}), std::invalid_argument);
}

// ---- preprocessing -------------------------------------------------------------------------------

TEST(Preprocess, LibrarySizeNormalisationAndLog1p) {
  Matrix x = from_rows({{1, 2, 7}, {0, 0, 0}, {5, 5, 10}, {3, 3, 34}});  // libraries 10, 0, 20, 40
  Matrix y = x;
  EXPECT_EQ(normalize_total(y), 20.0) << "median of the non-empty libraries 10, 20, 40";
  for (int64_t i : {0, 2, 3}) EXPECT_NEAR(y(i, 0) + y(i, 1) + y(i, 2), 20.0, 1e-12);
  EXPECT_EQ(y(1, 0) + y(1, 1) + y(1, 2), 0.0) << "an empty cell stays empty";
  EXPECT_DOUBLE_EQ(y(0, 2), 14.0);
  Matrix z = x;
  EXPECT_EQ(normalize_total(z, 1e4), 1e4);
  EXPECT_NEAR(z(3, 2), 1e4 * 34 / 40, 1e-9);
  log1p_in_place(z);
  EXPECT_NEAR(z(3, 2), std::log(1 + 8500.0), 1e-12);
  EXPECT_EQ(z(1, 1), 0.0);

  Matrix negative = x;
  negative(0, 0) = -1;
  try {
    normalize_total(negative);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("target_sum"), std::string::npos) << e.what();
  }
}

TEST(Preprocess, SeuratDispersionsMatchTheScanpyRecipe) {
  // Values from scanpy's flavor='seurat' recipe (numpy/pandas, 3 bins; gene 3 is alone in its bin
  // and gets a normalised dispersion of 1).
  const Matrix x = from_rows({{0, 1, 5, 2, 0, 3}, {1, 1, 0, 2, 8, 3}, {0, 2, 6, 2, 0, 4}, {2, 1, 0, 3, 0, 3}, {0, 1, 7, 2, 9, 3}});
  const HighlyVariableGenes h = highly_variable_genes_seurat(x, 2, 3);
  const double dispersion[6] = {0.28768207245178085, -1.791759469228055, 1.1438688802562305,
                                -2.3978952727983707, 1.8581345381729275, -2.772588722239781};
  const double normalised[6] = {0.7071067811865476, -0.7071067811865476, 0.4281456004480418,
                                1.0, 0.7146459454749874, -1.1427915459230291};
  EXPECT_EQ(h.bins, (std::vector<int>{0, 0, 2, 1, 2, 2}));
  for (int j = 0; j < 6; ++j) {
    EXPECT_NEAR(h.dispersions[size_t(j)], dispersion[j], 1e-12);
    EXPECT_NEAR(h.dispersions_norm[size_t(j)], normalised[j], 1e-12);
  }
  EXPECT_EQ(h.selected, (std::vector<int64_t>{3, 4}));
}

TEST(Preprocess, HighlyVariableGenesFindThePlantedGenes) {
  // 200 cells x 40 genes at two exact mean levels (3 for genes 0-19, 6 for 20-39), so each level is
  // one mean bin. Background genes cycle through L/3 * {1, 2, 3, 4, 5} (dispersion ~ 2/3 or 4/3);
  // the planted genes 5, 17 (level 3) and 33 (level 6) are bursty: 10 L in exactly 20 cells, else 0,
  // the same mean with dispersion ~ 9 L. Gene 38 is expressed in only 2 cells and must be dropped by
  // min_cells = 3 first. Library-size normalisation is off here (the bursts make the libraries
  // unequal, which would shift the exact means); it is tested above.
  Matrix x(200, 40);
  for (int64_t i = 0; i < 200; ++i)
    for (int64_t j = 0; j < 40; ++j) {
      const double level = j < 20 ? 3 : 6;
      if (j == 5 || j == 17 || j == 33) x(i, j) = (i * 7 + j) % 10 == 0 ? 10 * level : 0;
      else x(i, j) = level / 3 * double(1 + (i + j) % 5);
    }
  for (int64_t i = 0; i < 200; ++i) x(i, 38) = i < 2 ? 1 : 0;

  CellData data;
  data.x = x;
  for (int j = 0; j < 40; ++j) data.features.push_back("g" + std::to_string(j));
  PreprocessOptions o;
  o.target_sum = 0;
  o.n_top_genes = 3;
  const PreprocessRecord rec = preprocess(data, o);
  EXPECT_EQ(rec.kept_by_min_cells.size(), 39u) << "gene 38 is expressed in 2 < min_cells = 3 cells";
  EXPECT_EQ(rec.selected_features, (std::vector<int64_t>{5, 17, 33}));
  EXPECT_EQ(data.features, (std::vector<std::string>{"g5", "g17", "g33"}));
  ASSERT_EQ(data.x.cols, 3);
  EXPECT_NEAR(data.x(10, 2), std::log1p(x(10, 33)), 1e-15);
  EXPECT_TRUE(rec.log1p);
  EXPECT_EQ(rec.target_sum, 0.0);
  EXPECT_GE(rec.summary().size(), 4u);

  // With normalisation on, every kept cell's library is the median before log1p.
  CellData normalised;
  normalised.x = x;
  PreprocessOptions n;
  n.log1p = false;
  n.n_top_genes = 0;
  const PreprocessRecord nrec = preprocess(normalised, n);
  for (int64_t i = 0; i < 200; ++i) {
    double size = 0;
    for (int64_t j = 0; j < normalised.x.cols; ++j) size += normalised.x(i, j);
    EXPECT_NEAR(size, nrec.target_sum, 1e-9);
  }
}

TEST(Preprocess, PcaMatchesSklearnAndIsOrthonormal) {
  // sklearn PCA(n_components=3, svd_solver='full') on this 6 x 4 matrix.
  const Matrix x = from_rows({{2, 0, 1, 3}, {1, 1, 0, 2}, {4, 2, 2, 1}, {0, 3, 1, 0}, {3, 1, 4, 2}, {5, 0, 2, 2}});
  const PcaResult p = pca(x, 3);
  const double ev[3] = {4.847013703632592, 2.0375664518375247, 0.8755123268761851};
  const double evr[3] = {0.6214120132862296, 0.261226468184298, 0.1122451701123314};
  const double comp[3][4] = {{-0.8110403655699913, 0.35014952403568755, -0.40203225955731287, -0.2407880780041199},
                             {-0.15093784660123086, -0.5954840541691881, -0.551898491636253, 0.5639366654361471},
                             {-0.549740425210833, -0.18633566065952856, 0.7267321916423872, 0.3673211239314214}};
  const double score0[3] = {-0.05601685955725779, 1.8900482015037, 0.49753518752183684};
  const double score5[3] = {-2.6503821378204244, 0.321399504627607, -0.7922750203996966};
  for (int c = 0; c < 3; ++c) {
    EXPECT_NEAR(p.explained_variance[size_t(c)], ev[c], 1e-12);
    EXPECT_NEAR(p.explained_variance_ratio[size_t(c)], evr[c], 1e-12);
    for (int j = 0; j < 4; ++j) EXPECT_NEAR(p.components(c, j), comp[c][j], 1e-12);
    EXPECT_NEAR(p.scores(0, c), score0[c], 1e-12);
    EXPECT_NEAR(p.scores(5, c), score5[c], 1e-12);
    for (int e = 0; e < 3; ++e) {
      double dot = 0;
      for (int j = 0; j < 4; ++j) dot += p.components(c, j) * p.components(e, j);
      EXPECT_NEAR(dot, c == e ? 1.0 : 0.0, 1e-12);
    }
  }
  // Fewer cells than features: the Gram-matrix path (sklearn on the 4 x 6 matrix).
  const Matrix wide = from_rows({{2, 0, 1, 3, 5, 1}, {1, 1, 0, 2, 0, 2}, {4, 2, 2, 1, 3, 3}, {0, 3, 1, 0, 1, 1}});
  const PcaResult q = pca(wide, 2);
  EXPECT_NEAR(q.explained_variance[0], 7.559467429081788, 1e-12);
  EXPECT_NEAR(q.explained_variance[1], 3.359583047669762, 1e-12);
  EXPECT_NEAR(q.explained_variance_ratio[1], 0.26349670962115784, 1e-12);
  const double wide_comp[2][6] = {
      {0.4530221398762049, -0.3098944522158418, 0.14842617739604763, 0.3098944522158418, 0.7604714741396689, 0.0485242685375803},
      {0.5723105651286776, 0.4377554181117356, 0.34269800092278857, -0.4377554181117354, -0.07702939766099355, 0.40721684263944957}};
  for (int c = 0; c < 2; ++c)
    for (int j = 0; j < 6; ++j) EXPECT_NEAR(q.components(c, j), wide_comp[c][j], 1e-12);
  EXPECT_NEAR(q.scores(2, 1), 2.5194011956276157, 1e-12);
  EXPECT_THROW(pca(wide, 5), std::invalid_argument);
}

TEST(Preprocess, SymmetricEigenSolvesRandomMatrices) {
  std::mt19937_64 gen(8);
  std::uniform_real_distribution<double> u(-1, 1);
  const int n = 40;
  Matrix a(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) a(i, j) = a(j, i) = u(gen);
  a(3, 3) = a(4, 4) = 5;  // a near-degenerate pair
  const SymmetricEigen e = symmetric_eigen(a);
  EXPECT_TRUE(std::is_sorted(e.values.rbegin(), e.values.rend()));
  for (int k = 0; k < n; ++k) {
    for (int i = 0; i < n; ++i) {
      double av = 0;
      for (int j = 0; j < n; ++j) av += a(i, j) * e.vectors(k, j);
      EXPECT_NEAR(av, e.values[size_t(k)] * e.vectors(k, i), 1e-11);
    }
    for (int l = 0; l < n; ++l) {
      double dot = 0;
      for (int j = 0; j < n; ++j) dot += e.vectors(k, j) * e.vectors(l, j);
      EXPECT_NEAR(dot, k == l ? 1.0 : 0.0, 1e-12);
    }
  }
}

TEST(Preprocess, LeadingEigenpairsMatchTheKnownSpectrum) {
  // A = V diag(lambda) V^T with lambda_i = 100 / (1 + i) and V a random orthogonal basis.
  std::mt19937_64 gen(12);
  std::uniform_real_distribution<double> u(-1, 1);
  const int n = 150;
  Matrix r(n, n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j <= i; ++j) r(i, j) = r(j, i) = u(gen);
  const Matrix v = symmetric_eigen(r).vectors;
  Matrix a(n, n, 0.0);
  for (int l = 0; l < n; ++l)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) a(i, j) += 100.0 / (1 + l) * v(l, i) * v(l, j);
  const SymmetricEigen top = symmetric_eigen_top(a, 6);
  for (int l = 0; l < 6; ++l) {
    EXPECT_NEAR(top.values[size_t(l)], 100.0 / (1 + l), 1e-9);
    double dot = 0;
    for (int i = 0; i < n; ++i) dot += top.vectors(l, i) * v(l, i);
    EXPECT_NEAR(std::abs(dot), 1.0, 1e-9) << "eigenvector " << l;
  }
  // Repeated and zero eigenvalues: diag(5, 5, 3, 2, 0, ..., 0) permuted: both copies of 5 are found.
  Matrix d(40, 40, 0.0);
  const double diag[4] = {5, 5, 3, 2};
  const int at[4] = {17, 3, 30, 8};
  for (int i = 0; i < 4; ++i) d(at[i], at[i]) = diag[i];
  const SymmetricEigen repeated = symmetric_eigen_top(d, 4);
  EXPECT_NEAR(repeated.values[0], 5, 1e-12);
  EXPECT_NEAR(repeated.values[1], 5, 1e-12);
  EXPECT_NEAR(repeated.values[2], 3, 1e-12);
  EXPECT_NEAR(repeated.values[3], 2, 1e-12);
  // PCA through either path (all eigenpairs, or only the leading ones) agrees.
  Matrix x(120, 80);
  for (double& value : x.data) value = u(gen);
  for (int64_t i = 0; i < 120; ++i) x(i, 3) += 4 * x(i, 7);  // some structure
  const PcaResult dense = pca(x, 5, EigenSolver::dense), lanczos = pca(x, 5, EigenSolver::leading);
  for (int c = 0; c < 5; ++c) {
    EXPECT_NEAR(lanczos.explained_variance[size_t(c)], dense.explained_variance[size_t(c)], 1e-10);
    for (int64_t i = 0; i < 120; ++i) EXPECT_NEAR(lanczos.scores(i, c), dense.scores(i, c), 1e-7);
  }
}

TEST(Preprocess, OptionErrorsNameTheOption) {
  CellData d;
  d.x = from_rows({{0.5, -0.2, 1}, {1, 2, 3}, {0, 1, 1}});  // already scaled data
  auto message = [&](const PreprocessOptions& o) {
    CellData copy = d;
    try {
      preprocess(copy, o);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  PreprocessOptions o;
  o.min_cells = 0;
  EXPECT_NE(message(o).find("target_sum"), std::string::npos);
  o.target_sum = 0;  // normalisation off; log1p accepts -0.2 (> -1), but HVG needs counts
  EXPECT_NE(message(o).find("n_top_genes"), std::string::npos);
  o.n_top_genes = 0;
  o.n_components = 4;
  EXPECT_NE(message(o).find("n_components"), std::string::npos);
  o.n_components = 2;
  EXPECT_EQ(message(o), "no error");
  o.hvg_bins = 0;
  EXPECT_NE(message(o).find("hvg_bins"), std::string::npos);
}

// ---- metrics -------------------------------------------------------------------------------------

TEST(Metrics, SpearmanOfTiedVectorsMatchesScipy) {
  // The metric uses jess::eval::spearman; scipy.stats.spearmanr on these tied vectors.
  EXPECT_EQ(jess::eval::average_ranks({1, 2, 2, 3, 4, 4, 4, 5, 0, 7}), (std::vector<double>{2, 3.5, 3.5, 5, 7, 7, 7, 9, 1, 10}));
  EXPECT_NEAR(jess::eval::spearman({1, 2, 2, 3, 4, 4, 4, 5, 0, 7}, {2, 1, 4, 3, 6, 5, 5, 9, 8, 10}), 0.6049843779478736, 1e-14);
  EXPECT_NEAR(jess::eval::spearman({3, 1, 4, 1, 5, 9, 2, 6}, {2, 7, 1, 8, 2, 8, 1, 8}), 0.19885368120992467, 1e-14);
}

TEST(Metrics, KnnPreservationIsOneForTheDataItselfAndNearZeroForAPermutation) {
  std::mt19937_64 gen(2);
  std::uniform_real_distribution<double> u(0, 1);
  Matrix x(400, 2);
  for (double& v : x.data) v = u(gen);
  EXPECT_EQ(knn_preservation(x, x), 1.0);
  MetricsOptions sampled;
  sampled.max_queries = 50;
  EXPECT_EQ(knn_preservation(x, x, sampled), 1.0);
  std::vector<int64_t> perm(400);
  std::iota(perm.begin(), perm.end(), int64_t(0));
  std::shuffle(perm.begin(), perm.end(), gen);
  Matrix shuffled(400, 2);
  for (int64_t i = 0; i < 400; ++i)
    for (int j = 0; j < 2; ++j) shuffled(i, j) = x(perm[size_t(i)], j);
  const double random = knn_preservation(x, shuffled);
  EXPECT_LT(random, 0.1) << "chance level is k / (n - 1) ~ 0.04";
  EXPECT_THROW(knn_preservation(x, Matrix(10, 2)), std::invalid_argument);
}

TEST(Metrics, KnnLabelAccuracySeparatesGroupsAndBreaksTiesByTheNearest) {
  // Two far groups: perfect accuracy.
  Matrix x(40, 2);
  std::vector<std::string> labels;
  for (int64_t i = 0; i < 40; ++i) {
    x(i, 0) = (i < 20 ? 0.0 : 100.0) + double(i % 20) * 0.1;
    x(i, 1) = double(i % 3);
    labels.push_back(i < 20 ? "left" : "right");
  }
  EXPECT_EQ(knn_label_accuracy(x, labels), 1.0);
  // k = 2 on a line: every vote is 1:1 and goes to the nearer neighbour, which here always has the
  // other label (a "lowest label wins" rule would score 2/6).
  const Matrix line = from_rows({{0, 0}, {1, 0}, {2.5, 0}, {10, 0}, {11, 0}, {12.5, 0}});
  MetricsOptions o;
  o.k = 2;
  EXPECT_EQ(knn_label_accuracy(line, {"A", "B", "A", "B", "A", "B"}, o), 0.0);
}

TEST(Metrics, TreeConsistencyAndDistanceCorrelationOnTheChain) {
  const Chain c = make_chain();
  const DensityTree t = build_density_tree_from_clusters(c.x, c.centroids, c.labels);
  // Embedding the 2-D data as itself: the low-dim centroids are the cluster means = the centroids.
  const Matrix low = low_dim_centroids(t, c.x, 0.1);
  for (int v = 0; v < t.num_vertices(); ++v)
    for (int j = 0; j < 2; ++j) EXPECT_NEAR(low(v, j), t.centroids(v, j), 1e-12);
  const TreeConsistency same = tree_consistency(t, c.x, 0.1);
  EXPECT_EQ(same.exact, 1.0);
  EXPECT_EQ(same.adjacent, 1.0);
  // With DTAE's low-dim ghost offset 0.5 the ghosts move out to 5 beyond the leaves: the inner point
  // of each leaf cluster (3.25 from the leaf) now pairs with the leaf's neighbour instead of the
  // ghost: a miss, but an adjacent one.
  const TreeConsistency dtae = tree_consistency(t, c.x);
  EXPECT_NEAR(dtae.exact, 22.0 / 24.0, 1e-15);
  EXPECT_EQ(dtae.adjacent, 1.0);
  // Hop distance and 2-D distance are proportional along the chain.
  EXPECT_NEAR(tree_distance_correlation(t, c.x), 1.0, 1e-12);

  // Swap the clusters at the two ends of the chain in the embedding: pairs break and the distance
  // ranking no longer follows the tree.
  Matrix torn = c.x;
  for (int64_t i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) std::swap(torn(i, j), torn(20 + i, j));
  const TreeConsistency broken = tree_consistency(t, torn);
  EXPECT_LT(broken.exact, 0.7);
  EXPECT_LT(tree_distance_correlation(t, torn), 0.5);
  const EmbeddingMetrics all = evaluate_embedding(c.x, t, c.x, {}, MetricsOptions{3, 0.5, 0, 0, 1});
  EXPECT_EQ(all.knn_preservation, 1.0);
  EXPECT_EQ(all.label_accuracy, -1.0);
}

}  // namespace

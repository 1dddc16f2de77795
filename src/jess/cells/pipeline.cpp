#include "jess/cells/pipeline.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iomanip>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/npy.h"
#include "jess/core/plot.h"

namespace jess::cells {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string lower(std::string s) {
  for (auto& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

// t-SNE and UMAP baselines: Debian's scikit-learn (sklearn.manifold.TSNE, perplexity 30, PCA init) and
// umap-learn (15 neighbours, min_dist 0.1), run by python3 on the same preprocessed matrix.
const char* kPythonBaselines = R"PY(
import sys, time, json
import numpy as np
x = np.load(sys.argv[1]); out = sys.argv[2]; seed = int(sys.argv[3]); methods = sys.argv[4].split(",")
seconds = {}
for m in methods:
    t0 = time.perf_counter()
    if m == "tsne":
        from sklearn.manifold import TSNE
        e = TSNE(n_components=2, perplexity=min(30.0, (len(x) - 1) / 3.0), init="pca", learning_rate="auto",
                 random_state=seed).fit_transform(x)
    elif m == "umap":
        import umap
        e = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), min_dist=0.1, random_state=seed).fit_transform(x)
    else:
        raise SystemExit("unknown baseline " + m)
    seconds[m] = time.perf_counter() - t0
    np.save(out + "/" + m + ".npy", np.asarray(e, dtype=np.float64))
json.dump(seconds, open(out + "/baseline_seconds.json", "w"))
)PY";

Matrix read_embedding(const std::string& path, int64_t n) {
  auto a = read_npy(path);
  if (a.shape.size() != 2 || a.shape[0] != n || a.shape[1] != 2)
    throw std::runtime_error(path + ": expected an (" + std::to_string(n) + ", 2) embedding");
  Matrix m(n, 2);
  m.data = a.data;
  return m;
}

void write_embedding_csv(const std::string& path, const CellData& d, const Matrix& e, const Annotation* label) {
  std::ostringstream s;
  s << std::setprecision(9) << "cell,x,y" << (label ? "," + label->name : "") << "\n";
  for (int64_t i = 0; i < e.rows; ++i) {
    s << (d.cells.empty() ? std::to_string(i) : d.cells[size_t(i)]) << "," << e(i, 0) << "," << e(i, 1);
    if (label) s << "," << label->values[size_t(i)];
    s << "\n";
  }
  write_text_atomic(path, s.str());
}

void plot_embedding(const std::string& path, const Matrix& e, const DensityTree& tree, const Annotation* label,
                    const std::string& title) {
  plot::Scatter sc;
  for (int64_t i = 0; i < e.rows; ++i) sc.x.push_back(e(i, 0)), sc.y.push_back(e(i, 1));
  if (label) {
    if (label->numeric) sc.values = label->numbers;
    else sc.categories = label->values;
  }
  // The density tree at the low-dimensional centroids (ghosts left out: they are a loss device).
  Matrix c = low_dim_centroids(tree, e);
  for (int k = 0; k < tree.num_clusters; ++k) sc.nodes.push_back({c(k, 0), c(k, 1)});
  for (const auto& edge : tree.edges)
    if (!edge.ghost) sc.edges.push_back({edge.u, edge.v});
  plot::ScatterOptions o;
  o.title = title;
  o.color_label = label ? label->name : "";
  plot::scatter(sc, o, path);
}

// The k-means clusters of a folder written by write_tree (or by bench/cells_bench.py's peer).
KMeansResult read_clusters(const std::string& dir, const Matrix& x) {
  const NpyArray c = read_npy(dir + "/kmeans_centroids.npy"), l = read_npy(dir + "/labels.npy");
  if (c.shape.size() != 2 || c.shape[1] != x.cols || c.shape[0] < 2)
    throw std::runtime_error(dir + "/kmeans_centroids.npy: expected K x " + std::to_string(x.cols) + " centroids");
  if (l.numel() != x.rows) throw std::runtime_error(dir + "/labels.npy: expected " + std::to_string(x.rows) + " labels");
  KMeansResult r;
  r.centroids = Matrix(c.shape[0], c.shape[1]);
  r.centroids.data = c.data;
  for (double v : l.data) {
    if (v != std::floor(v) || v < 0 || v >= double(c.shape[0]))
      throw std::runtime_error(dir + "/labels.npy: label " + std::to_string(v) + " is not a cluster index");
    r.labels.push_back(int(v));
  }
  r.inertia = kmeans_inertia(x, r.centroids, r.labels);
  return r;
}

// The density tree as .npy files (float64; integers exact) in dir: kmeans_centroids (K x d), labels (n),
// centroids ((K+L) x d, ghosts last), pairs (n x 2), hops ((K+L) x (K+L)), ghost_leaf (L), triplets
// (T x 3: a, i, b), edges (E x 3: u, v, 1 for a ghost edge).
void write_tree(const std::string& dir, const DensityTree& t) {
  make_directories(dir);
  const int64_t k = t.num_clusters, v = t.num_vertices(), n = int64_t(t.labels.size()), d = t.centroids.cols;
  auto put = [&](const std::string& name, const std::vector<double>& values, const std::vector<int64_t>& shape) {
    write_npy(dir + "/" + name + ".npy", values.data(), shape);
  };
  put("kmeans_centroids", std::vector<double>(t.centroids.data.begin(), t.centroids.data.begin() + k * d), {k, d});
  put("centroids", t.centroids.data, {v, d});
  put("labels", std::vector<double>(t.labels.begin(), t.labels.end()), {n});
  std::vector<double> pairs, triplets, edges;
  for (const auto& p : t.pairs) pairs.insert(pairs.end(), {double(p.first), double(p.second)});
  for (const auto& p : t.triplets) triplets.insert(triplets.end(), {double(p.a), double(p.i), double(p.b)});
  for (const auto& e : t.edges) edges.insert(edges.end(), {double(e.u), double(e.v), e.ghost ? 1.0 : 0.0});
  put("pairs", pairs, {n, 2});
  put("hops", std::vector<double>(t.hops.begin(), t.hops.end()), {v, v});
  put("ghost_leaf", std::vector<double>(t.ghost_leaf.begin(), t.ghost_leaf.end()), {int64_t(t.ghost_leaf.size())});
  put("triplets", triplets, {int64_t(t.triplets.size()), 3});
  put("edges", edges, {int64_t(t.edges.size()), 3});
}

}  // namespace

void CellsPipelineOptions::describe(ConfigSchema& s) {
  s.add("preprocess.enabled", preprocess_enabled, "normalise, log1p, select genes (off for the synthetic tree)");
  s.add("preprocess.min_cells", min_cells, "drop features expressed in fewer cells (0: keep all)", check::int_at_least(0));
  s.add("preprocess.target_sum", target_sum, "library size after normalisation (-1: the median; 0: no normalisation)",
        [](const double& v) { return v == -1 || v >= 0 ? "" : "must be -1 (median), 0 (off) or positive"; });
  s.add("preprocess.log1p", log1p, "log(1 + x) after normalisation");
  s.add("preprocess.n_top_genes", n_top_genes, "highly variable genes kept (Seurat flavour; 0: all)", check::int_at_least(0));
  s.add("preprocess.n_components", n_components, "PCA components replacing the genes (0: no PCA)", check::int_at_least(0));
  s.add("tree.clusters", clusters, "k-means centroids K (0: min(50, max(4, cells / 20)); the reference uses 50)",
        check::int_at_least(0));
  s.add("tree.restarts", kmeans_restarts, "k-means++ restarts (the lowest inertia wins)", check::positive_int());
  s.add("tree.load", tree_load,
        "build the density tree from the clusters in this folder (kmeans_centroids.npy, labels.npy, as written to "
        "OUT/tree/) instead of running k-means; empty: k-means");
  dtae.describe(s, "dtae.", false);
  s.add("baselines", baselines, "embeddings compared with DTAE: any of pca, ae (DTAE before fine-tuning), tsne, umap");
  s.add("metrics.k", metrics_k, "neighbours for k-NN preservation and label accuracy", check::positive_int());
  s.add("metrics.max_queries", metrics_max_queries, "points scored by the k-NN metrics (0: all)", check::int_at_least(0));
  s.add("synthetic.n_branch", synthetic_branches, "synthetic tree: branches", check::int_at_least(2));
  s.add("synthetic.branch_length", synthetic_branch_length, "synthetic tree: points per branch", check::int_at_least(2));
  s.add("synthetic.n_dim", synthetic_dims, "synthetic tree: features", check::positive_int());
  s.add("synthetic.sigma", synthetic_sigma, "synthetic tree: noise standard deviation", check::non_negative());
  s.add("seed", seed, "seed of k-means, DTAE, the baselines and the synthetic tree", check::int_at_least(0));
}

void CellsPipelineOptions::validate() const {
  dtae.validate();
  for (const auto& b : split_list(baselines))
    if (b != "pca" && b != "ae" && b != "tsne" && b != "umap")
      throw ConfigError("config key 'baselines': unknown baseline '" + b + "' (pca, ae, tsne, umap)");
}

SyntheticTreeOptions CellsPipelineOptions::synthetic_options() const {
  SyntheticTreeOptions so;
  so.n_branch = int(synthetic_branches);
  so.branch_length = int(synthetic_branch_length);
  so.n_dim = int(synthetic_dims);
  so.sigma = synthetic_sigma;
  so.seed = uint64_t(seed) + 37;  // gen_dla's default seed for seed 0
  return so;
}

const Annotation& find_annotation(const CellData& d, const std::string& name) {
  for (const auto& a : d.annotations)
    if (a.name == name) return a;
  for (const auto& a : d.annotations)
    if (lower(a.name) == lower(name)) return a;
  if (lower(name) == "time")  // the user story's "--color-by time": HSMM's Hours, the lung's age / Time
    for (const char* alias : {"hours", "hour", "day", "days", "age", "timepoint", "time_point", "pseudotime", "position"})
      for (const auto& a : d.annotations)
        if (lower(a.name) == alias) return a;
  return d.annotation(name);  // throws, listing the available names
}

CellsPipelineReport run_cells_pipeline(const std::string& source, const LoadOptions& load, const CellsPipelineOptions& o,
                                       const std::string& color_by, const std::string& out_dir) {
  o.validate();
  const auto t_all = std::chrono::steady_clock::now();
  CellsPipelineReport rep;
  rep.source = source;
  CellData data;
  const bool synthetic = source == "synthetic";
  if (synthetic) {
    data = synthetic_tree(o.synthetic_options());
  } else {
    data = load_cells(source, load);
  }
  if (data.x.rows < 10) throw std::invalid_argument(source + ": " + std::to_string(data.x.rows) + " cells are too few for DTAE");
  const Annotation* label = nullptr;
  if (!color_by.empty()) {
    label = &find_annotation(data, color_by);
  } else {
    for (const auto& a : data.annotations)
      if (!a.numeric && !label) label = &a;
  }
  const std::string label_name = label ? label->name : "";
  rep.cells = data.x.rows;
  rep.features_in = data.x.cols;
  if (o.preprocess_enabled && !synthetic) {
    PreprocessOptions po;
    po.min_cells = int(o.min_cells);
    if (o.target_sum >= 0) po.target_sum = o.target_sum;
    po.log1p = o.log1p;
    po.n_top_genes = int(o.n_top_genes);
    po.n_components = int(o.n_components);
    rep.preprocessing = preprocess(data, po).summary();
  } else {
    rep.preprocessing.push_back(synthetic ? "synthetic tree: used as generated (min-max scaled), as the reference"
                                          : "preprocessing off: the matrix is used as read");
  }
  // preprocess() keeps the annotations; re-find the label after it (the vector may have moved).
  if (label) label = &find_annotation(data, label_name);
  rep.features_used = data.x.cols;
  make_directories(out_dir);
  write_npy(out_dir + "/preprocessed.npy", data.x.data.data(), {data.x.rows, data.x.cols});

  // The density tree (brief A.2) on the matrix the autoencoder sees.
  auto t0 = std::chrono::steady_clock::now();
  DensityTreeOptions to;
  to.num_clusters = int(o.clusters > 0 ? o.clusters : std::min<int64_t>(50, std::max<int64_t>(4, data.x.rows / 20)));
  if (to.num_clusters >= data.x.rows)
    throw ConfigError("config key 'tree.clusters': " + std::to_string(to.num_clusters) + " centroids for " +
                      std::to_string(data.x.rows) + " cells");
  to.kmeans.n_init = int(o.kmeans_restarts);
  to.kmeans.seed = uint64_t(o.seed);
  // The tree is built on its own thread while the autoencoder pretrains (which does not need it):
  // one core each (DTAE's small autoencoder trains on one thread, dtae.cpp).
  to.kmeans.threads = 1;
  DtaeOptions dopt = o.dtae;
  dopt.seed = uint64_t(o.seed);
  DensityTree tree;
  DtaeResult dtae = train_dtae_overlapped(
      data.x,
      [&] {
        const auto t_tree = std::chrono::steady_clock::now();
        DensityTree built;
        if (o.tree_load.empty()) {
          built = build_density_tree(data.x, to);
        } else {
          const KMeansResult clusters = read_clusters(o.tree_load, data.x);
          built = build_density_tree_from_clusters(data.x, clusters.centroids, clusters.labels, to.ghost_offset,
                                                   to.kmeans.threads);
        }
        rep.tree_seconds = seconds_since(t_tree);
        return built;
      },
      dopt, tree);
  rep.clusters = tree.num_clusters;
  rep.leaves = tree.num_ghosts;
  rep.pretrain_seconds = dtae.pretrain_seconds;
  rep.finetune_seconds = dtae.finetune_seconds;
  const double dtae_seconds = seconds_since(t0);
  write_tree(out_dir + "/tree", tree);
  for (const auto& [name, w] : {std::pair<const char*, const std::vector<float>*>{"init", &dtae.initial_weights},
                                {"pretrained", &dtae.pretrained_weights},
                                {"final", &dtae.final_weights}})
    write_npy_f32(out_dir + "/weights_" + name + ".npy", w->data(), {int64_t(w->size())});

  MetricsOptions mo;
  mo.k = int(o.metrics_k);
  mo.max_queries = o.metrics_max_queries;
  mo.seed = uint64_t(o.seed);
  std::vector<std::string> labels;
  if (label && !label->numeric) labels = label->values;
  auto add_row = [&](const std::string& method, const Matrix& e, double seconds) {
    rep.rows.push_back({method, evaluate_embedding(data.x, tree, e, labels, mo), seconds});
    write_npy(out_dir + "/" + method + ".npy", e.data.data(), {e.rows, 2});
    write_embedding_csv(out_dir + "/" + method + ".csv", data, e, label);
    for (const char* ext : {".png", ".svg"})
      plot_embedding(out_dir + "/" + method + ext, e, tree, label,
                     method + ": " + std::to_string(e.rows) + " cells" + (label ? ", coloured by " + label->name : ""));
  };
  add_row("dtae", dtae.embedding, dtae_seconds);  // tree and pretraining overlap
  const auto baselines = split_list(o.baselines);
  auto wants = [&](const std::string& b) { return std::find(baselines.begin(), baselines.end(), b) != baselines.end(); };
  if (wants("ae")) add_row("ae", dtae.pretrained_embedding, dtae.pretrain_seconds);
  if (wants("pca")) {
    t0 = std::chrono::steady_clock::now();
    auto p = pca(data.x, 2);
    add_row("pca", p.scores, seconds_since(t0));
  }
  std::vector<std::string> py;
  for (const char* b : {"tsne", "umap"})
    if (wants(b)) py.push_back(b);
  if (!py.empty()) {
    const std::string script = out_dir + "/cells_baselines.py";
    write_text_atomic(script, kPythonBaselines);
    std::string methods;
    for (const auto& m : py) methods += (methods.empty() ? "" : ",") + m;
    // Debian's interpreter has the packages (a pyenv/venv python3 first on PATH usually does not);
    // JESS_PYTHON overrides.
    const char* env = std::getenv("JESS_PYTHON");
    const std::string python = env && *env ? env : (file_exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3");
    const std::string cmd = python + " '" + script + "' '" + out_dir + "/preprocessed.npy' '" + out_dir + "' " +
                            std::to_string(o.seed) + " " + methods;
    if (std::system(cmd.c_str()) != 0)
      throw std::runtime_error("the t-SNE/UMAP baselines failed (" + cmd +
                               "); they need python3 with Debian's python3-sklearn and umap-learn");
    for (const auto& m : py) add_row(m, read_embedding(out_dir + "/" + m + ".npy", data.x.rows), NAN);
  }
  // Loss curves: pretraining reconstruction, fine-tuning terms.
  {
    plot::Series pre, tot, pp, cr, co, re;
    pre.label = "reconstruction (pretraining)";
    for (size_t i = 0; i < dtae.pretrain_loss.size(); ++i) pre.x.push_back(double(i + 1)), pre.y.push_back(dtae.pretrain_loss[i]);
    plot::LineOptions lo;
    lo.title = "DTAE pretraining";
    lo.x_label = "epoch";
    lo.y_label = "MSE";
    lo.log_y = true;
    if (!pre.x.empty()) plot::lines({pre}, lo, out_dir + "/pretrain_loss.png");  // none with dtae.pretrained_weights
    tot.label = "total", pp.label = "push-pull", cr.label = "crispness", co.label = "cosine", re.label = "reconstruction";
    for (size_t i = 0; i < dtae.finetune_loss.size(); ++i) {
      const auto& l = dtae.finetune_loss[i];
      const double x = double(i + 1);
      tot.x.push_back(x), tot.y.push_back(l.total);
      pp.x.push_back(x), pp.y.push_back(l.push_pull);
      cr.x.push_back(x), cr.y.push_back(l.crispness);
      co.x.push_back(x), co.y.push_back(l.cosine);
      re.x.push_back(x), re.y.push_back(l.reconstruction);
    }
    lo.title = "DTAE fine-tuning (full batch)";
    lo.x_label = "step";
    lo.y_label = "loss term";
    plot::lines({tot, pp, cr, co, re}, lo, out_dir + "/finetune_loss.png");
  }
  rep.total_seconds = seconds_since(t_all);
  write_text_atomic(out_dir + "/metrics.md", rep.table());
  write_text_atomic(out_dir + "/metrics.json", rep.json());
  return rep;
}

std::string CellsPipelineReport::table() const {
  std::ostringstream s;
  s << source << ": " << cells << " cells, " << features_used << " features (of " << features_in << "); density tree of "
    << clusters << " centroids, " << leaves << " leaves\n\n";
  s << "| embedding | tree consistency (exact) | (adjacent) | Spearman(tree hops, 2-D) | k-NN preservation | label k-NN accuracy | seconds |\n";
  s << "|---|---|---|---|---|---|---|\n";
  s << std::fixed;
  for (const auto& r : rows) {
    const auto& m = r.metrics;
    s << "| " << r.method << " | " << std::setprecision(3) << m.consistency.exact << " | " << m.consistency.adjacent << " | "
      << m.tree_distance_spearman << " | " << m.knn_preservation << " | ";
    if (m.label_accuracy >= 0) s << m.label_accuracy;
    else s << "-";
    s << " | ";
    if (std::isnan(r.seconds)) s << "-";
    else s << std::setprecision(1) << r.seconds;
    s << " |\n";
  }
  return s.str();
}

std::string CellsPipelineReport::json() const {
  std::ostringstream s;
  auto str = [](const std::string& v) {
    std::string o = "\"";
    for (char c : v) {
      if (c == '"' || c == '\\') o += '\\';
      o += c;
    }
    return o + "\"";
  };
  auto num = [](double v) { return std::isfinite(v) ? std::to_string(v) : std::string("null"); };
  s << "{\"source\": " << str(source) << ", \"cells\": " << cells << ", \"features_in\": " << features_in
    << ", \"features_used\": " << features_used << ", \"clusters\": " << clusters << ", \"leaves\": " << leaves
    << ", \"tree_seconds\": " << num(tree_seconds) << ", \"pretrain_seconds\": " << num(pretrain_seconds)
    << ", \"finetune_seconds\": " << num(finetune_seconds) << ", \"total_seconds\": " << num(total_seconds) << ", \"preprocessing\": [";
  for (size_t i = 0; i < preprocessing.size(); ++i) s << (i ? ", " : "") << str(preprocessing[i]);
  s << "], \"embeddings\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& m = rows[i].metrics;
    s << (i ? ", " : "") << "{\"method\": " << str(rows[i].method) << ", \"tree_consistency_exact\": " << num(m.consistency.exact)
      << ", \"tree_consistency_adjacent\": " << num(m.consistency.adjacent)
      << ", \"tree_distance_spearman\": " << num(m.tree_distance_spearman) << ", \"knn_preservation\": " << num(m.knn_preservation)
      << ", \"label_accuracy\": " << (m.label_accuracy >= 0 ? num(m.label_accuracy) : "null")
      << ", \"seconds\": " << num(rows[i].seconds) << "}";
  }
  s << "]}\n";
  return s.str();
}

}  // namespace jess::cells

#pragma once
// `jess cells dtae`: the whole DTAE user story in one call (light header: no torch). Load (readers.h)
// -> preprocess (preprocess.h) -> density tree on the preprocessed matrix (density_tree.h) -> DTAE
// (dtae.h) -> baselines embedded from the same matrix (PCA in jess; the plain autoencoder = DTAE
// before fine-tuning; t-SNE / UMAP through Debian's scikit-learn / umap-learn, scripts/cells_baselines.py)
// -> the same metrics for every embedding (metrics.h) against the same tree -> files in the output
// folder: embedding.csv / .npy, scatter plots (PNG and SVG) coloured by a label with the density tree
// drawn over them, metrics.md / metrics.json, loss curves, the density tree (tree/*.npy) and the
// autoencoder's weights before pretraining, before fine-tuning and at the end (weights_*.npy).
#include <cstdint>
#include <string>
#include <vector>

#include "jess/cells/density_tree.h"
#include "jess/cells/dtae.h"
#include "jess/cells/matrix.h"
#include "jess/cells/metrics.h"
#include "jess/cells/preprocess.h"
#include "jess/cells/readers.h"
#include "jess/cells/synthetic.h"

namespace jess {
class ConfigSchema;
}

namespace jess::cells {

struct CellsPipelineOptions {
  bool preprocess_enabled = true;   // off for the synthetic tree (used as generated, as the reference)
  int64_t min_cells = 3, n_top_genes = 2000, n_components = 0;
  double target_sum = -1;           // -1: median library size; 0: no normalisation
  bool log1p = true;
  int64_t clusters = 0;             // K; 0: auto = min(50, max(4, cells / 20)) (the reference: 50 for >= 10k cells)
  int64_t kmeans_restarts = 10;
  // A folder with kmeans_centroids.npy (K x features) and labels.npy (one k-means label per cell), as
  // every run writes to OUT/tree/: the density tree is built from those clusters (steps 2-8) instead of
  // running k-means. For controlled comparisons (bench/cells_bench.py); empty: k-means.
  std::string tree_load;
  DtaeOptions dtae;
  std::string baselines = "pca,ae"; // any of pca, ae, tsne, umap (the last two need python3 + sklearn / umap-learn)
  int64_t metrics_k = 15, metrics_max_queries = 0;
  // The data source "synthetic": a PHATE-style tree (synthetic.h), used as generated (no preprocessing).
  int64_t synthetic_branches = 10, synthetic_branch_length = 1000, synthetic_dims = 100;
  double synthetic_sigma = 4.0;
  int64_t seed = 0;                 // k-means, DTAE initialisation and order, baselines, synthetic tree
  void describe(ConfigSchema& schema);
  void validate() const;
  SyntheticTreeOptions synthetic_options() const;  // the synthetic.* keys and seed
};

struct EmbeddingRow {
  std::string method;
  EmbeddingMetrics metrics;
  double seconds = 0;
};

struct CellsPipelineReport {
  std::string source;
  int64_t cells = 0, features_in = 0, features_used = 0;
  std::vector<std::string> preprocessing;  // what was done, one line per step
  int clusters = 0, leaves = 0;
  std::vector<EmbeddingRow> rows;          // dtae first
  double tree_seconds = 0, total_seconds = 0;
  double pretrain_seconds = 0, finetune_seconds = 0;  // DTAE's stages (the tree overlaps pretraining)
  std::string table() const;               // Markdown
  std::string json() const;
};

// `source`: a path for load_cells, or "synthetic". `color_by`: an annotation name (case-insensitive;
// "time" also finds Hours / age / day columns), "" = none (the first categorical annotation, if any).
CellsPipelineReport run_cells_pipeline(const std::string& source, const LoadOptions& load,
                                       const CellsPipelineOptions& options, const std::string& color_by,
                                       const std::string& out_dir);

// The annotation `color_by` names (see above); throws listing the available ones.
const Annotation& find_annotation(const CellData& data, const std::string& color_by);

}  // namespace jess::cells

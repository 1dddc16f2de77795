// jess cells: parse and call jess::cells (single-cell readers, DTAE).
#include <cstdio>
#include <memory>
#include <sstream>

#include "app/commands.h"
#include "jess/cells/pipeline.h"
#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/npy.h"

namespace jess::app {

namespace {
struct SourceArgs {
  std::string annotations, orientation = "auto";
};

void add_source_options(CLI::App* c, SourceArgs& s) {
  c->add_option("--annotations", s.annotations, "per-cell annotations: CSV/TSV (first column: cell names) or an R data.frame file");
  c->add_option("--orientation", s.orientation, "auto | cells-as-rows | genes-as-rows (dense tables and R matrices)")
      ->check(CLI::IsMember({"auto", "cells-as-rows", "genes-as-rows"}));
}

cells::LoadOptions load_options(const SourceArgs& s) {
  cells::LoadOptions l;
  l.annotations = s.annotations;
  if (s.orientation != "auto") l.cells_as_rows = s.orientation == "cells-as-rows";
  return l;
}

const char* kSources =
    "\nSOURCE is a 10x folder (matrix.mtx[.gz] with barcodes/features), an .mtx, a dense .csv/.tsv (optionally\n"
    ".gz; Seurat's genes x cells with a header of cell names, or a headerless cells x features matrix), an R\n"
    ".rda/.RData/.rds file, the HSMMSingleCell or monocle package folder (scripts/setup.sh unpacks them into\n"
    "data/cells/), or `synthetic` (a PHATE-style branching tree, keys synthetic.*).\n";
}  // namespace

void add_cells_commands(CLI::App& app, GlobalOptions& global) {
  auto* cells_cmd = app.add_subcommand("cells", "Single-cell data: read, and see hierarchies with DTAE (density-tree-biased autoencoder)");
  cells_cmd->require_subcommand(1);

  // ---- dtae
  struct DtaeArgs {
    std::string source, out = "runs/dtae", config, color_by;
    SourceArgs src;
    bool print_config = false;
    std::vector<std::string> words;
  };
  auto a = std::make_shared<DtaeArgs>();
  static cells::CellsPipelineOptions defaults;
  auto* d = cells_cmd->add_subcommand("dtae", "2-D embedding that respects the data's density tree, with PCA/AE/t-SNE/UMAP baselines and metrics");
  d->footer(std::string(kSources) + schema_help([](ConfigSchema& s) { defaults.describe(s); }) +
            "\nOutputs in --out: dtae.png/.svg (and one per baseline) coloured by --color-by with the density tree\n"
            "drawn at the 2-D cluster centres; dtae.csv/.npy (embedding); metrics.md/.json (tree consistency,\n"
            "Spearman of tree hops vs 2-D distance, k-NN preservation, label k-NN accuracy); loss curves;\n"
            "preprocessed.npy (the matrix every embedding starts from); tree/*.npy (the density tree: k-means\n"
            "centroids and labels, pairs, hops, ghosts, triplets, edges; tree.load=DIR rebuilds a tree from such\n"
            "clusters); weights_{init,pretrained,final}.npy (the autoencoder, flat float32; dtae.init_weights= and\n"
            "dtae.pretrained_weights= start from such files).\n"
            "\nExamples:\n  jess cells dtae data/cells/HSMMSingleCell --color-by time --config configs/cells/hsmm.yaml\n"
            "  jess cells dtae synthetic --color-by branch baselines=pca,ae,tsne,umap\n");
  d->add_option("source", a->source, "data (see below)")->required();
  d->add_option("--out,-o", a->out, "output folder");
  d->add_option("--color-by", a->color_by, "cell annotation colouring the plots (e.g. time, State, branch)");
  d->add_option("--config", a->config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  d->add_flag("--print-config", a->print_config, "print the effective configuration and exit");
  add_source_options(d, a->src);
  d->add_option("args", a->words, "key=value overrides");
  d->callback([a] {
    cells::CellsPipelineOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, a->config, a->words);
    o.validate();
    if (a->print_config) {
      std::printf("%s", schema.to_yaml().c_str());
      return;
    }
    auto rep = cells::run_cells_pipeline(a->source, load_options(a->src), o, a->color_by, a->out);
    for (const auto& line : rep.preprocessing) std::printf("preprocessing: %s\n", line.c_str());
    std::printf("%s\nwrote %s/{dtae.png,dtae.svg,dtae.csv,metrics.md} in %.1f s\n", rep.table().c_str(), a->out.c_str(),
                rep.total_seconds);
  });

  // ---- info
  struct InfoArgs {
    std::string source;
    SourceArgs src;
  };
  auto i = std::make_shared<InfoArgs>();
  auto* info = cells_cmd->add_subcommand("info", "Dimensions, names and annotations of a single-cell dataset");
  info->footer(kSources);
  info->add_option("source", i->source, "data")->required();
  add_source_options(info, i->src);
  info->callback([i] {
    auto d = cells::load_cells(i->source, load_options(i->src));
    int64_t nonzero = 0;
    for (double v : d.x.data) nonzero += v != 0;
    std::printf("%s: %lld cells x %lld features, %.1f %% non-zero\n", i->source.c_str(), (long long)d.x.rows,
                (long long)d.x.cols, 100.0 * double(nonzero) / double(std::max<size_t>(1, d.x.data.size())));
    if (!d.cells.empty()) std::printf("cells: %s, ...\n", d.cells[0].c_str());
    if (!d.features.empty()) std::printf("features: %s, ...\n", d.features[0].c_str());
    for (const auto& an : d.annotations) {
      std::printf("annotation %-20s %s", an.name.c_str(), an.numeric ? "numeric" : "categorical");
      if (!an.numeric) {
        std::vector<std::pair<std::string, int>> counts;
        for (const auto& v : an.values) {
          auto it = std::find_if(counts.begin(), counts.end(), [&](const auto& c) { return c.first == v; });
          if (it == counts.end()) counts.push_back({v, 1});
          else ++it->second;
        }
        std::printf(" (%zu values)", counts.size());
        for (size_t k = 0; k < std::min<size_t>(6, counts.size()); ++k)
          std::printf("%s %s: %d", k ? "," : "", counts[k].first.c_str(), counts[k].second);
        if (counts.size() > 6) std::printf(", ...");
      }
      std::printf("\n");
    }
  });

  // ---- synthetic
  struct SynArgs {
    std::string out = "tree.npy";
    std::vector<std::string> words;
  };
  auto s = std::make_shared<SynArgs>();
  auto* syn = cells_cmd->add_subcommand("synthetic", "Write a PHATE-style branching tree (for demos, tests and benchmarks)");
  syn->footer("\nWrites OUT (.npy: cells x features; .csv: with a header and cell names) and OUT's stem + _cells.csv\n"
              "(branch, position). Keys: synthetic.n_branch, synthetic.branch_length, synthetic.n_dim, synthetic.sigma, seed.\n");
  syn->add_option("--out,-o", s->out, ".npy or .csv");
  syn->add_option("args", s->words, "key=value overrides");
  syn->callback([s] {
    cells::CellsPipelineOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, "", s->words);
    auto d = cells::synthetic_tree(o.synthetic_options());
    const auto dot = s->out.find_last_of('.');
    const std::string stem = dot == std::string::npos ? s->out : s->out.substr(0, dot);
    const std::string ext = dot == std::string::npos ? "" : s->out.substr(dot);
    if (ext == ".npy") {
      write_npy(s->out, d.x.data.data(), {d.x.rows, d.x.cols});
    } else if (ext == ".csv") {
      std::ostringstream t;
      t.precision(9);
      t << "cell";
      for (int64_t j = 0; j < d.x.cols; ++j) t << ",f" << j;
      t << "\n";
      for (int64_t r = 0; r < d.x.rows; ++r) {
        t << "c" << r;
        for (int64_t j = 0; j < d.x.cols; ++j) t << "," << d.x(r, j);
        t << "\n";
      }
      write_text_atomic(s->out, t.str());
    } else {
      throw ConfigError("--out must end in .npy or .csv");
    }
    std::ostringstream c;
    c << "cell";
    for (const auto& an : d.annotations) c << "," << an.name;
    c << "\n";
    for (int64_t r = 0; r < d.x.rows; ++r) {
      c << "c" << r;
      for (const auto& an : d.annotations) c << "," << an.values[size_t(r)];
      c << "\n";
    }
    write_text_atomic(stem + "_cells.csv", c.str());
    std::printf("wrote %s (%lld cells x %lld features) and %s_cells.csv\n", s->out.c_str(), (long long)d.x.rows,
                (long long)d.x.cols, stem.c_str());
  });
  (void)global;
}

}  // namespace jess::app

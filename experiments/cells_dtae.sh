#!/usr/bin/env bash
# DTAE against its baselines (PCA, the plain autoencoder, t-SNE and UMAP from Debian's scikit-learn and
# umap-learn) on HSMM myoblasts, the monocle lung bifurcation and the 10,000-cell synthetic tree, with
# the same metrics for every embedding (tree consistency, Spearman of tree hops vs 2-D distance, k-NN
# preservation, label k-NN accuracy). Plots and tables in OUT/<dataset>/.
#   experiments/cells_dtae.sh OUT [SEED] [BASELINES]     (BASELINES default pca,ae,tsne,umap)
set -euo pipefail
out=$1; seed=${2:-0}; baselines=${3:-pca,ae,tsne,umap}
jess=${JESS:-build/jess}
mkdir -p "$out"
"$jess" cells dtae data/cells/HSMMSingleCell --config configs/cells/hsmm.yaml --color-by time --out "$out/hsmm" \
  seed=$seed baselines=$baselines | tee "$out/hsmm.log"
"$jess" cells dtae data/cells/monocle --config configs/cells/lung.yaml --color-by State --out "$out/lung" \
  seed=$seed baselines=$baselines | tee "$out/lung.log"
# The reference's PHATE experiment: 10 branches x 1,000 points in 100-D, K = 50, 100-32-2, 150 + 150.
"$jess" cells dtae synthetic --color-by branch --out "$out/synthetic" seed=$seed baselines=$baselines \
  metrics.max_queries=2000 | tee "$out/synthetic.log"
for d in hsmm lung synthetic; do echo "## $d"; cat "$out/$d/metrics.md"; echo; done > "$out/table.md"
cat "$out/table.md"

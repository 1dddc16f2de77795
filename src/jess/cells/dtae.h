#pragma once
// DTAE, the density-tree-biased autoencoder (Damrich et al., Bioinformatics 2022; the reference
// repository hci-unihd/DTAE = arXiv v1 variant; research brief sections A.3-A.4). Light header: no
// torch (the model and the losses live in dtae.cpp / dtae_model.h).
//   1. Pretraining: a fully connected autoencoder (encoder Linear layers over `dims` with ReLU between
//      them and a linear 2-D bottleneck; the decoder mirrors it with a linear output) on the MSE
//      reconstruction, Adam, shuffled mini-batches.
//   2. Fine-tuning, full batch (one Adam step per "epoch"): with e_i = enc(x_i) in 2-D, low-dim
//      centroids C_k = mean of e over k-means cluster k, low-dim ghosts C_l + r (C_l - C_n) (r = 0.5),
//      the stored high-dim pair (a, b) = P(i) and the current two nearest low-dim centroids (a', b')
//      (ghosts included; a constant index selection), d(p, q) = sqrt(max(1e-6, |p - q|^2)),
//      nu = d(C_a, C_b):
//        crispness_i = ((d(C_a, e_i) + d(C_b, e_i)) / nu)^2
//        push_pull_i = G[a', b'] * (crispness_i - ((d(C_a', e_i) + d(C_b', e_i)) / nu)^2)
//        cosine      = mean over triplets (a, i, b) of 1 - cos(C_i - C_a, C_b - C_i)   (eps 1e-8)
//        loss = w_pp (mean push_pull + mean crispness) + MSE(dec(e), x) + w_cos cosine.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jess/cells/density_tree.h"
#include "jess/cells/matrix.h"

namespace jess {
class ConfigSchema;
}

namespace jess::cells {

struct DtaeOptions {
  // Hidden sizes of the encoder between the input and the 2-D bottleneck, e.g. "32" (the reference's
  // PHATE config 100-32-2) or "2048-256-32"; "auto": by input width as the reference configs
  // (<= 200 features: 32; <= 3000: 512-64; else 2048-256-32).
  std::string hidden = "auto";
  int64_t pretrain_epochs = 150;   // reference: 150 (PHATE) - 600 (T-cells)
  double pretrain_lr = 1e-3;       // reference: 1e-3 (PHATE), 2e-4 (real data)
  int64_t batch = 256;
  int64_t finetune_steps = 150;    // full-batch Adam steps
  double finetune_lr = 0.01;
  double weight_push_pull = 1.0;
  double weight_cosine = 15.0;     // reference configs: 10 - 15
  double low_ghost_offset = 0.5;   // r of the low-dimensional ghosts
  uint64_t seed = 0;
  // Start from given weights instead of the seeded initialisation (init_weights) or instead of
  // pretraining (pretrained_weights: pretraining is skipped): .npy files of the flat float32 layout of
  // dtae_flat_weights, e.g. another run's weights_*.npy or a PyTorch model's
  // torch.cat([p.flatten() for p in model.parameters()]). For controlled comparisons (bench/cells_bench.py).
  std::string init_weights, pretrained_weights;
  // Pretraining batch order from a file instead of the seeded shuffle: .npy, pretrain_epochs x cells, each
  // row a permutation of 0..cells-1 (e.g. the torch.randperm orders of bench/cells_bench.py's peer).
  std::string pretrain_order;
  // with_seed = false leaves `seed` to the caller (jess cells dtae has one global seed).
  void describe(ConfigSchema& schema, const std::string& prefix = "dtae.", bool with_seed = true);
  void validate() const;
};

struct DtaeLossParts {
  double total = 0, push_pull = 0, crispness = 0, cosine = 0, reconstruction = 0;
};

struct DtaeResult {
  Matrix embedding;              // n x 2 after fine-tuning
  Matrix pretrained_embedding;   // n x 2 of the plain autoencoder (the "AE" baseline)
  std::vector<double> pretrain_loss;          // mean reconstruction MSE per epoch
  std::vector<DtaeLossParts> finetune_loss;   // per fine-tuning step
  double reconstruction_pretrained = 0, reconstruction_final = 0;  // full-data MSE
  double pretrain_seconds = 0, finetune_seconds = 0;
  std::vector<int64_t> dims;     // the autoencoder's encoder widths, input to 2
  // The autoencoder's parameters (dtae_flat_weights layout) before pretraining, after it (the start of
  // fine-tuning) and at the end.
  std::vector<float> initial_weights, pretrained_weights, final_weights;
};

// The seeded pretraining order of `epoch` (a permutation of 0..n-1; DtaeOptions::pretrain_order replaces it).
std::vector<int64_t> dtae_pretrain_order(int64_t n, uint64_t seed, int64_t epoch);

// x: the (preprocessed) cells x features matrix the density tree was built on.
DtaeResult train_dtae(const Matrix& x, const DensityTree& tree, const DtaeOptions& options);

// The same, with the tree built concurrently: pretraining does not need the tree, so `build_tree`
// runs on its own thread while the autoencoder pretrains (on the other core), and fine-tuning waits
// for it. The tree is returned through `tree`. The result equals train_dtae(x, build_tree(), options).
DtaeResult train_dtae_overlapped(const Matrix& x, const std::function<DensityTree()>& build_tree,
                                 const DtaeOptions& options, DensityTree& tree);

}  // namespace jess::cells

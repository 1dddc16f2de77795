#pragma once
// DTAE's torch side (heavy header: include it only from dtae.cpp and the tests): the autoencoder
// module, the hand-written training steps, and the fine-tuning loss on the density tree
// (research brief sections A.3-A.4; dtae.h describes the algorithm).
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jess/cells/density_tree.h"
#include "jess/cells/dtae.h"

namespace jess::cells {

// The encoder widths from the input width to the 2-D bottleneck for DtaeOptions::hidden: "auto"
// picks the reference configurations' hidden sizes by input width (brief A.3: <= 200 features: 32,
// the PHATE config 100-32-2; <= 3000: 512-64, dentate gyrus; else 2048-256-32, pancreas/T-cells);
// otherwise sizes joined by '-'. Throws std::invalid_argument for unparseable text.
std::vector<int64_t> dtae_encoder_dims(int64_t features, const std::string& hidden);

struct DtaeAutoencoderOptions {
  std::vector<int64_t> dims;  // encoder widths, input first, bottleneck (2) last; at least two
};

// The reference's models.AE without dropout or batch norm (off in every shipped config): the encoder
// is Linear layers over dims with ReLU between them and none after the bottleneck; the decoder
// mirrors it with a linear output. Submodules are torch::nn::Sequential "encoder" and "decoder"
// holding Linear and ReLU modules, so parameter names match a Python nn.Sequential (encoder.0.weight,
// encoder.2.weight, ...). Linear layers keep PyTorch's default initialisation (Kaiming-uniform, a =
// sqrt(5); bias U(+-1/sqrt(fan_in))), drawn in construction order: encoder first, then decoder.
class DtaeAutoencoderImpl : public torch::nn::Module {
 public:
  explicit DtaeAutoencoderImpl(const DtaeAutoencoderOptions& options);
  at::Tensor encode(const at::Tensor& x);
  at::Tensor decode(const at::Tensor& embedding);
  // (embedding, reconstruction)
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& x);
  // Encoder Linear layers then decoder Linear layers, in data-flow order.
  const std::vector<torch::nn::Linear>& linear_layers() const { return linears_; }
  const std::vector<int64_t>& dims() const { return options_.dims; }

 private:
  DtaeAutoencoderOptions options_;
  torch::nn::Sequential encoder_{nullptr}, decoder_{nullptr};
  std::vector<torch::nn::Linear> linears_;
};
TORCH_MODULE(DtaeAutoencoder);

// All parameters of the model in one float32 vector: per Linear layer of linear_layers(), its weight
// (out x in, row-major) then its bias. That is the order of a PyTorch AE's model.parameters() with the
// same module names, so torch.cat([p.flatten() for p in model.parameters()]) has this layout.
std::vector<float> dtae_flat_weights(DtaeAutoencoder& model);
// Copies such a vector into the model; throws std::invalid_argument when its length does not fit.
void load_dtae_flat_weights(DtaeAutoencoder& model, const std::vector<float>& flat);

// Training steps of the autoencoder computed by hand instead of through autograd and torch::optim,
// for both stages. The network is small (100-32-2 in the PHATE config), so per-operation overhead
// is a large share of a step: on 10k x 100 (one thread) the 6000 pretraining steps took 2.3-3.1 s
// with torch::nn + torch::optim::Adam and 1.3 s here. All parameters, gradients and Adam moments
// live in single flat float buffers, activations in buffers preallocated for the largest batch,
// matrix products go to BLAS through at::addmm_out / at::mm_out, and elementwise work (ReLU masks,
// the MSE and its gradient, the Adam update) is plain loops: no tensor allocation per step.
// The loss is mean((dec(enc(x)) - x)^2) plus, optionally, any loss of the embedding whose gradient
// the caller supplies (fine-tuning: the tree loss, differentiated by autograd on the n x 2
// embedding only). The update is torch.optim.Adam's (betas 0.9/0.999, eps 1e-8, no weight decay,
// bias-corrected), so results match autograd + torch::optim::Adam up to float rounding (tested).
class DtaeManualTrainer {
 public:
  // Copies the model's current parameters (float32, CPU) and starts a fresh Adam; batches may hold
  // up to max_batch rows.
  DtaeManualTrainer(DtaeAutoencoder& model, int64_t max_batch, double lr);
  // Forward pass of `batch` (float32, contiguous, rows <= max_batch; held until backward_and_step).
  // Returns (embedding, reconstruction): views of the trainer's buffers, overwritten by the next
  // forward.
  std::pair<at::Tensor, at::Tensor> forward(const at::Tensor& batch);
  // Backpropagates the MSE of the last forward plus, when defined, `embedding_grad` (rows x 2: the
  // gradient of an extra loss term with respect to the embedding), then takes one Adam step.
  // Returns that MSE (before the step).
  double backward_and_step(const at::Tensor& embedding_grad = {});
  // forward + backward_and_step on the MSE alone (a pretraining step).
  double step(const at::Tensor& batch) {
    forward(batch);
    return backward_and_step();
  }
  // Writes the trained parameters back into the model.
  void store(DtaeAutoencoder& model) const;
  int64_t steps() const { return steps_; }
  // The last backward pass's gradients, flat: per layer of linear_layers(), weight then bias.
  const at::Tensor& gradients() const { return grads_; }

 private:
  struct Layer {
    at::Tensor weight, bias, weight_grad, bias_grad;  // views into the flat buffers
    at::Tensor output;                                // max_batch x out activations
    bool relu = false;                                // ReLU after this layer
  };
  std::vector<Layer> layers_;
  size_t bottleneck_ = 0;                                     // index of the last encoder layer
  std::vector<at::Tensor> outputs_, output_grads_;            // the last forward's row views
  at::Tensor gradient_buffers_[2];                            // output_grads_[l] lies in buffer l % 2
  at::Tensor batch_;                                          // the last forward's input
  at::Tensor params_, grads_, first_moment_, second_moment_;  // flat float32
  double lr_;
  int64_t max_batch_, steps_ = 0;
};

// The fine-tuning loss terms as tensors (differentiable: total.backward() trains the model).
// push_pull, crispness, cosine: unweighted means; reconstruction: MSE; total: the weighted sum.
struct DtaeLossTensors {
  at::Tensor total, push_pull, crispness, cosine, reconstruction;
  DtaeLossParts values() const;
};

// The tree terms' values and their gradient with respect to the embedding (DtaeTreeLoss::
// tree_value_and_gradient): parts.reconstruction is 0 and parts.total = w_pp (push_pull +
// crispness) + w_cos cosine.
struct DtaeTreeGradient {
  DtaeLossParts parts;
  at::Tensor embedding_grad;  // n x dims, the embedding's dtype
};

// Per-point terms of the tree loss (n each) and the current low-dim pair (a', b') used for them.
struct DtaePointTerms {
  at::Tensor crispness, push_pull;  // T_i and G[a', b'] (T_i - S_i)
  at::Tensor nearest;               // n x 2 int64, (a', b') with a' < b'
};

// The fine-tuning loss of brief A.4 items 1-6, holding the density tree as index tensors. Two forms:
//   * operator() / tree_terms: the loss as batched torch ops (index_add, index_select, no per-point
//     tensor ops), differentiable by autograd: the reference formulation, for tests and analysis;
//   * tree_value_and_gradient: the tree terms with a hand-derived gradient, used by train_dtae.
// Works in the embedding's dtype (float32 in training, float64 in the gradient tests).
class DtaeTreeLoss {
 public:
  DtaeTreeLoss(const DensityTree& tree, double weight_push_pull, double weight_cosine, double low_ghost_offset);
  explicit DtaeTreeLoss(const DensityTree& tree, const DtaeOptions& options = {})
      : DtaeTreeLoss(tree, options.weight_push_pull, options.weight_cosine, options.low_ghost_offset) {}

  // Items 1-2: (K+L) x dims low-dim centroids, cluster means of the embedding then the ghosts
  // C_leaf + r (C_leaf - C_neighbour); differentiable in the embedding.
  at::Tensor centroids(const at::Tensor& embedding) const;
  // Item 3: every point's two nearest rows of `centroids` as sorted pairs (n x 2 int64; ties to the
  // lower index), without gradient: the selection is a constant of the step.
  at::Tensor nearest_pairs(const at::Tensor& embedding, const at::Tensor& centroids) const;
  // Items 1-5 without the reconstruction: total = w_pp (mean push-pull + mean crispness) + w_cos
  // cosine; `reconstruction` is left undefined (the manual trainer adds the MSE itself).
  DtaeLossTensors tree_terms(const at::Tensor& embedding) const;
  // tree_terms(embedding) and d total / d embedding in one pass without autograd: the training path.
  // The n-sized work (centroid means, nearest pairs, push-pull and crispness with their gradients,
  // the chain back through the means and ghosts) is one loop over the points in double precision;
  // only the cosine over the (K+L) x dims centroids goes through autograd. On 10k points autograd
  // through tree_terms took ~8 ms per fine-tuning step against ~2.5 ms here (one thread), as much as
  // the network's own forward and backward. Equal to tree_terms + backward up to rounding (tested).
  DtaeTreeGradient tree_value_and_gradient(const at::Tensor& embedding) const;
  // Item 4 per point (the second form reuses centroids(embedding)).
  DtaePointTerms point_terms(const at::Tensor& embedding) const;
  DtaePointTerms point_terms(const at::Tensor& embedding, const at::Tensor& centroids) const;
  // Item 5: mean over the triplets (a, i, b) of 1 - cos(C_i - C_a, C_b - C_i); 0 without triplets.
  at::Tensor cosine(const at::Tensor& centroids) const;
  // Item 6: embedding n x dims, reconstruction and x n x features.
  DtaeLossTensors operator()(const at::Tensor& embedding, const at::Tensor& reconstruction,
                             const at::Tensor& x) const;

  int64_t num_points() const { return num_points_; }

 private:
  int64_t num_points_, num_clusters_, num_vertices_;
  double weight_push_pull_, weight_cosine_, low_ghost_offset_;
  at::Tensor labels_;                             // n, k-means label
  at::Tensor cluster_sizes_;                      // K x 1, float64
  at::Tensor stored_first_, stored_second_;       // n, the high-dim pair P(i)
  at::Tensor ghost_leaf_, ghost_neighbour_;       // L, the leaf and its one MST neighbour
  at::Tensor hops_;                               // (K+L)^2 flattened, float64
  at::Tensor triplet_a_, triplet_i_, triplet_b_;  // T each
};

}  // namespace jess::cells

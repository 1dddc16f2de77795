// DTAE training (research brief sections A.3-A.4; the algorithm is summarised in dtae.h): a
// fully connected autoencoder pretrained on the reconstruction MSE with shuffled mini-batches, then
// fine-tuned full batch on the density tree's push-pull, crispness and cosine losses plus the MSE.
#include "jess/cells/dtae.h"

#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <algorithm>
#include <future>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <stdexcept>

#include "jess/cells/dtae_model.h"
#include "jess/core/config.h"
#include "jess/core/npy.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/nn/encoders.h"

namespace jess::cells {

// ------------------------------------------------------------------ options

namespace {

constexpr int64_t kBottleneck = 2;             // DTAE embeds in 2-D
constexpr uint64_t kPretrainOrderStream = 0xD7AE;  // seeded_permutation stream of the epoch orders

std::string check_hidden(const std::string& hidden) {
  if (hidden == "auto") return {};
  try {
    if (nn::parse_layer_sizes(hidden).empty()) return "expected 'auto' or sizes joined by '-', e.g. 32 or 512-64";
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return {};
}

}  // namespace

void DtaeOptions::describe(ConfigSchema& s, const std::string& p, bool with_seed) {
  s.add(p + "hidden", hidden,
        "encoder hidden sizes between the input and the 2-D bottleneck joined by '-' (decoder mirrored), or auto: "
        "by input width as the reference configs (<= 200: 32; <= 3000: 512-64; else 2048-256-32)",
        check_hidden);
  s.add(p + "pretrain_epochs", pretrain_epochs, "autoencoder pretraining epochs (reference: 150 PHATE, 300-600 real)",
        check::positive_int());
  s.add(p + "pretrain_lr", pretrain_lr, "pretraining Adam learning rate (reference: 1e-3 PHATE, 2e-4 real)",
        check::positive());
  s.add(p + "batch", batch, "pretraining mini-batch size (shuffled each epoch)", check::positive_int());
  s.add(p + "finetune_steps", finetune_steps, "fine-tuning Adam steps, each on the full data", check::positive_int());
  s.add(p + "finetune_lr", finetune_lr, "fine-tuning Adam learning rate (reference: 0.01 PHATE/dentate, 1e-3)",
        check::positive());
  s.add(p + "weight_push_pull", weight_push_pull, "weight of the push-pull and crispness terms", check::non_negative());
  s.add(p + "weight_cosine", weight_cosine, "weight of the cosine (straight chain) term (reference: 10-15)",
        check::non_negative());
  s.add(p + "low_ghost_offset", low_ghost_offset, "r of the low-dim ghosts C_leaf + r (C_leaf - C_neighbour)",
        check::non_negative());
  s.add(p + "init_weights", init_weights,
        "start from these weights (.npy, flat float32: weights_init.npy of a run, or a PyTorch AE's parameters "
        "concatenated) instead of the seeded initialisation; empty: seeded");
  s.add(p + "pretrained_weights", pretrained_weights,
        "skip pretraining and fine-tune from these weights (.npy as init_weights, e.g. weights_pretrained.npy); "
        "empty: pretrain");
  s.add(p + "pretrain_order", pretrain_order,
        "pretraining batch order from this .npy (pretrain_epochs x cells, each row a permutation) instead of the "
        "seeded shuffle; empty: seeded");
  // The schema binds int64_t fields; int64_t is the signed type corresponding to uint64_t, so
  // accessing the field through it is allowed ([basic.lval]); negative values are refused.
  if (with_seed)
    s.add(p + "seed", reinterpret_cast<int64_t&>(seed), "seed of the initialisation and the mini-batch order",
        check::int_at_least(0));
}

void DtaeOptions::validate() const {
  auto fail = [](const std::string& key, const std::string& why) {
    throw ConfigError("config key 'dtae." + key + "' " + why);
  };
  const std::string hidden_problem = check_hidden(hidden);
  if (!hidden_problem.empty()) fail("hidden", "= '" + hidden + "': " + hidden_problem);
  if (pretrain_epochs <= 0) fail("pretrain_epochs", "must be > 0 (got " + std::to_string(pretrain_epochs) + ")");
  if (batch <= 0) fail("batch", "must be > 0 (got " + std::to_string(batch) + ")");
  if (finetune_steps <= 0) fail("finetune_steps", "must be > 0 (got " + std::to_string(finetune_steps) + ")");
  // Written as !(v > 0) so NaN is refused too.
  if (!(pretrain_lr > 0) || !std::isfinite(pretrain_lr))
    fail("pretrain_lr", "must be > 0 (got " + format_double(pretrain_lr) + ")");
  if (!(finetune_lr > 0) || !std::isfinite(finetune_lr))
    fail("finetune_lr", "must be > 0 (got " + format_double(finetune_lr) + ")");
  if (!(weight_push_pull >= 0) || !std::isfinite(weight_push_pull))
    fail("weight_push_pull", "must be >= 0 (got " + format_double(weight_push_pull) + ")");
  if (!(weight_cosine >= 0) || !std::isfinite(weight_cosine))
    fail("weight_cosine", "must be >= 0 (got " + format_double(weight_cosine) + ")");
  if (!(low_ghost_offset >= 0) || !std::isfinite(low_ghost_offset))
    fail("low_ghost_offset", "must be >= 0 (got " + format_double(low_ghost_offset) + ")");
}

std::vector<int64_t> dtae_encoder_dims(int64_t features, const std::string& hidden) {
  if (features < 1) throw std::invalid_argument("DTAE: the data have no features");
  std::vector<int64_t> sizes;
  if (hidden == "auto") {
    if (features <= 200)
      sizes = {32};
    else if (features <= 3000)
      sizes = {512, 64};
    else
      sizes = {2048, 256, 32};
  } else {
    sizes = nn::parse_layer_sizes(hidden);
    if (sizes.empty()) throw std::invalid_argument("DTAE hidden sizes '" + hidden + "': none given");
  }
  std::vector<int64_t> dims{features};
  dims.insert(dims.end(), sizes.begin(), sizes.end());
  dims.push_back(kBottleneck);
  return dims;
}

// ------------------------------------------------------------------ autoencoder

DtaeAutoencoderImpl::DtaeAutoencoderImpl(const DtaeAutoencoderOptions& options) : options_(options) {
  const auto& dims = options_.dims;
  if (dims.size() < 2) throw std::invalid_argument("DTAE autoencoder: need at least an input and a bottleneck width");
  for (int64_t d : dims)
    if (d < 1) throw std::invalid_argument("DTAE autoencoder: layer widths must be positive");
  encoder_ = torch::nn::Sequential();
  decoder_ = torch::nn::Sequential();
  const size_t layers = dims.size() - 1;
  // models.AE: ReLU between layers, none after the bottleneck (encoder) nor the output (decoder).
  for (size_t l = 0; l < layers; ++l) {
    torch::nn::Linear linear(dims[l], dims[l + 1]);
    encoder_->push_back(linear);
    linears_.push_back(linear);
    if (l + 1 < layers) encoder_->push_back(torch::nn::ReLU());
  }
  for (size_t l = layers; l-- > 0;) {
    torch::nn::Linear linear(dims[l + 1], dims[l]);
    decoder_->push_back(linear);
    linears_.push_back(linear);
    if (l > 0) decoder_->push_back(torch::nn::ReLU());
  }
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
}

at::Tensor DtaeAutoencoderImpl::encode(const at::Tensor& x) { return encoder_->forward(x); }
at::Tensor DtaeAutoencoderImpl::decode(const at::Tensor& embedding) { return decoder_->forward(embedding); }
std::pair<at::Tensor, at::Tensor> DtaeAutoencoderImpl::forward(const at::Tensor& x) {
  at::Tensor e = encode(x);
  return {e, decode(e)};
}

std::vector<int64_t> dtae_pretrain_order(int64_t n, uint64_t seed, int64_t epoch) {
  return seeded_permutation(n, seed, kPretrainOrderStream, uint64_t(epoch));
}

std::vector<float> dtae_flat_weights(DtaeAutoencoder& model) {
  std::vector<float> flat;
  for (const auto& l : model->linear_layers())
    for (const at::Tensor& p : {l->weight, l->bias}) {
      const at::Tensor t = p.detach().to(at::kFloat).contiguous();
      flat.insert(flat.end(), t.data_ptr<float>(), t.data_ptr<float>() + t.numel());
    }
  return flat;
}

void load_dtae_flat_weights(DtaeAutoencoder& model, const std::vector<float>& flat) {
  int64_t total = 0;
  for (const auto& l : model->linear_layers()) total += l->weight.numel() + l->bias.numel();
  if (int64_t(flat.size()) != total)
    throw std::invalid_argument("DTAE weights: " + std::to_string(flat.size()) + " values for an autoencoder of " +
                                std::to_string(total) + " parameters");
  at::NoGradGuard no_grad;
  size_t offset = 0;
  for (const auto& l : model->linear_layers())
    for (at::Tensor p : {l->weight, l->bias}) {
      const at::Tensor source =
          at::from_blob(const_cast<float*>(flat.data() + offset), p.sizes(), at::TensorOptions().dtype(at::kFloat));
      p.copy_(source);
      offset += size_t(p.numel());
    }
}

// ------------------------------------------------------------------ hand-written training steps

DtaeManualTrainer::DtaeManualTrainer(DtaeAutoencoder& model, int64_t max_batch, double lr)
    : lr_(lr), max_batch_(max_batch) {
  if (max_batch < 1) throw std::invalid_argument("DtaeManualTrainer: max_batch must be positive");
  const auto& linears = model->linear_layers();
  int64_t total = 0;
  for (const auto& l : linears) total += l->weight.numel() + l->bias.numel();
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  params_ = at::empty({total}, f32);
  grads_ = at::zeros({total}, f32);
  first_moment_ = at::zeros({total}, f32);
  second_moment_ = at::zeros({total}, f32);
  bottleneck_ = linears.size() / 2 - 1;
  int64_t widest = 0;
  for (const auto& l : linears) widest = std::max(widest, l->weight.size(0));
  // The backward pass needs the gradients of two adjacent layers' outputs at a time: two buffers in
  // turn instead of one per layer (full-batch fine-tuning of the large configs holds n x widths).
  for (auto& buffer : gradient_buffers_) buffer = at::empty({max_batch * widest}, f32);
  int64_t offset = 0;
  at::NoGradGuard no_grad;
  for (size_t l = 0; l < linears.size(); ++l) {
    const auto& w = linears[l]->weight;
    const auto& b = linears[l]->bias;
    const int64_t out = w.size(0), in = w.size(1);
    Layer layer;
    layer.weight = params_.narrow(0, offset, out * in).view({out, in});
    layer.weight_grad = grads_.narrow(0, offset, out * in).view({out, in});
    offset += out * in;
    layer.bias = params_.narrow(0, offset, out);
    layer.bias_grad = grads_.narrow(0, offset, out);
    offset += out;
    layer.weight.copy_(w);
    layer.bias.copy_(b);
    layer.output = at::empty({max_batch, out}, f32);
    // ReLU after every layer except the bottleneck and the output (models.AE).
    layer.relu = l != bottleneck_ && l + 1 != linears.size();
    layers_.push_back(layer);
  }
  outputs_.resize(layers_.size());
  output_grads_.resize(layers_.size());
}

std::pair<at::Tensor, at::Tensor> DtaeManualTrainer::forward(const at::Tensor& batch) {
  const int64_t rows = batch.dim() == 2 ? batch.size(0) : 0, features = layers_.front().weight.size(1);
  if (rows < 1 || rows > max_batch_ || batch.scalar_type() != at::kFloat || !batch.is_contiguous() ||
      batch.size(1) != features)
    throw std::invalid_argument("DtaeManualTrainer: expected a contiguous float batch of 1.." +
                                std::to_string(max_batch_) + " rows x " + std::to_string(features) + " features");
  batch_ = batch;
  // z_l = h_{l-1} W_l^T + b_l, then h_l = relu(z_l) in place: h_l > 0 exactly where z_l > 0, so h_l
  // doubles as the ReLU mask of the backward pass.
  at::Tensor input = batch;
  for (size_t l = 0; l < layers_.size(); ++l) {
    Layer& layer = layers_[l];
    outputs_[l] = layer.output.narrow(0, 0, rows);
    const int64_t out = layer.weight.size(0);
    output_grads_[l] = gradient_buffers_[l % 2].narrow(0, 0, rows * out).view({rows, out});
    at::addmm_out(outputs_[l], layer.bias, input, layer.weight.t());
    if (layer.relu) {
      float* h = outputs_[l].data_ptr<float>();
      for (int64_t k = 0, m = outputs_[l].numel(); k < m; ++k) h[k] = h[k] > 0.0f ? h[k] : 0.0f;
    }
    input = outputs_[l];
  }
  return {outputs_[bottleneck_], outputs_.back()};
}

double DtaeManualTrainer::backward_and_step(const at::Tensor& embedding_grad) {
  if (!batch_.defined()) throw std::logic_error("DtaeManualTrainer::backward_and_step without a forward pass");
  // MSE = mean over all rows x features entries; its gradient 2 (y - x) / (rows * features).
  const float* x = batch_.data_ptr<float>();
  const float* y = outputs_.back().data_ptr<float>();
  float* dy = output_grads_.back().data_ptr<float>();
  const int64_t entries = batch_.numel();
  const float scale = 2.0f / float(entries);
  double squared = 0;
  for (int64_t k = 0; k < entries; ++k) {
    const float diff = y[k] - x[k];
    squared += double(diff) * double(diff);
    dy[k] = scale * diff;
  }
  // dW_l = dz_l^T h_{l-1}, db_l = column sums of dz_l, dh_{l-1} = dz_l W_l, masked by the ReLU; the
  // extra embedding gradient joins at the bottleneck's output.
  for (size_t l = layers_.size(); l-- > 0;) {
    Layer& layer = layers_[l];
    at::Tensor& grad = output_grads_[l];
    if (l == bottleneck_ && embedding_grad.defined()) {
      if (embedding_grad.sizes() != grad.sizes())
        throw std::invalid_argument("DtaeManualTrainer: the embedding gradient must be rows x bottleneck");
      grad.add_(embedding_grad.to(at::kFloat));
    }
    const at::Tensor& previous = l > 0 ? outputs_[l - 1] : batch_;
    at::mm_out(layer.weight_grad, grad.t(), previous);
    at::sum_out(layer.bias_grad, grad, {0});
    if (l == 0) break;  // no gradient for the data
    at::mm_out(output_grads_[l - 1], grad, layer.weight);
    if (layers_[l - 1].relu) {
      const float* h = outputs_[l - 1].data_ptr<float>();
      float* g = output_grads_[l - 1].data_ptr<float>();
      for (int64_t k = 0, m = outputs_[l - 1].numel(); k < m; ++k)
        if (!(h[k] > 0.0f)) g[k] = 0.0f;
    }
  }
  batch_ = at::Tensor();
  // Adam as torch.optim.Adam's single-tensor path (PyTorch 1.13): m = b1 m + (1 - b1) g,
  // v = b2 v + (1 - b2) g^2, p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
  ++steps_;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const float step_size = float(lr_ / (1.0 - std::pow(beta1, double(steps_))));
  const float correction2 = float(std::sqrt(1.0 - std::pow(beta2, double(steps_))));
  const float b1 = float(beta1), b2 = float(beta2), one_minus_b1 = float(1.0 - beta1);
  const float one_minus_b2 = float(1.0 - beta2), epsilon = float(eps);
  float* p = params_.data_ptr<float>();
  const float* g = grads_.data_ptr<float>();
  float* m = first_moment_.data_ptr<float>();
  float* v = second_moment_.data_ptr<float>();
  for (int64_t k = 0, n = params_.numel(); k < n; ++k) {
    m[k] = b1 * m[k] + one_minus_b1 * g[k];
    v[k] = b2 * v[k] + one_minus_b2 * g[k] * g[k];
    p[k] -= step_size * (m[k] / (std::sqrt(v[k]) / correction2 + epsilon));
  }
  return squared / double(entries);
}

void DtaeManualTrainer::store(DtaeAutoencoder& model) const {
  at::NoGradGuard no_grad;
  const auto& linears = model->linear_layers();
  for (size_t l = 0; l < linears.size(); ++l) {
    linears[l]->weight.copy_(layers_[l].weight);
    linears[l]->bias.copy_(layers_[l].bias);
  }
}

// ------------------------------------------------------------------ tree loss

DtaeLossParts DtaeLossTensors::values() const {
  DtaeLossParts p;
  p.total = total.item<double>();
  p.push_pull = push_pull.item<double>();
  p.crispness = crispness.item<double>();
  p.cosine = cosine.item<double>();
  p.reconstruction = reconstruction.defined() ? reconstruction.item<double>() : 0.0;
  return p;
}

namespace {

at::Tensor long_tensor(const std::vector<int64_t>& values) {
  return at::tensor(at::ArrayRef<int64_t>(values), at::TensorOptions().dtype(at::kLong));
}

// d(p, q) = sqrt(max(1e-6, |p - q|^2)) row-wise (A.4 item 4): the floor keeps the gradient finite
// when a point sits on a centroid.
at::Tensor safe_distance(const at::Tensor& p, const at::Tensor& q) {
  return (p - q).pow(2).sum(-1).clamp_min(1e-6).sqrt();
}

}  // namespace

DtaeTreeLoss::DtaeTreeLoss(const DensityTree& tree, double weight_push_pull, double weight_cosine,
                           double low_ghost_offset)
    : num_points_(int64_t(tree.labels.size())),
      num_clusters_(tree.num_clusters),
      num_vertices_(tree.num_vertices()),
      weight_push_pull_(weight_push_pull),
      weight_cosine_(weight_cosine),
      low_ghost_offset_(low_ghost_offset) {
  const int64_t n = num_points_, k = num_clusters_, vertices = num_vertices_;
  if (k < 2) throw std::invalid_argument("DTAE tree loss: the density tree needs at least two clusters");
  if (tree.pairs.size() != tree.labels.size())
    throw std::invalid_argument("DTAE tree loss: " + std::to_string(tree.labels.size()) + " labels but " +
                                std::to_string(tree.pairs.size()) + " pairs");
  if (int64_t(tree.hops.size()) != vertices * vertices || int64_t(tree.ghost_leaf.size()) != tree.num_ghosts ||
      int64_t(tree.neighbours.size()) != vertices)
    throw std::invalid_argument("DTAE tree loss: the density tree's hops / ghosts / neighbours do not match K + L");
  std::vector<int64_t> labels(static_cast<size_t>(n)), first(labels.size()), second(labels.size()),
      sizes(static_cast<size_t>(k), 0);
  for (int64_t i = 0; i < n; ++i) {
    const int label = tree.labels[size_t(i)];
    const CentroidPair& pair = tree.pairs[size_t(i)];
    if (label < 0 || label >= k || pair.first < 0 || pair.second >= vertices || pair.first == pair.second)
      throw std::invalid_argument("DTAE tree loss: point " + std::to_string(i) + " has an invalid label or pair");
    labels[size_t(i)] = label;
    first[size_t(i)] = pair.first;
    second[size_t(i)] = pair.second;
    ++sizes[size_t(label)];
  }
  for (int64_t c = 0; c < k; ++c)
    if (sizes[size_t(c)] == 0)
      throw std::invalid_argument("DTAE tree loss: cluster " + std::to_string(c) + " has no points (no centroid)");
  std::vector<int64_t> leaves, leaf_neighbours;
  for (int leaf : tree.ghost_leaf) {
    // A leaf's augmented neighbours are its one MST neighbour and its ghost (brief A.2 step 5).
    int neighbour = -1;
    for (int v : tree.neighbours[size_t(leaf)])
      if (!tree.is_ghost(v)) neighbour = v;
    if (neighbour < 0) throw std::invalid_argument("DTAE tree loss: leaf " + std::to_string(leaf) + " has no neighbour");
    leaves.push_back(leaf);
    leaf_neighbours.push_back(neighbour);
  }
  std::vector<int64_t> ta, ti, tb;
  for (const Triplet& t : tree.triplets) {
    ta.push_back(t.a);
    ti.push_back(t.i);
    tb.push_back(t.b);
  }
  std::vector<double> hops(tree.hops.begin(), tree.hops.end());
  labels_ = long_tensor(labels);
  cluster_sizes_ = long_tensor(sizes).to(at::kDouble).unsqueeze(1);
  stored_first_ = long_tensor(first);
  stored_second_ = long_tensor(second);
  ghost_leaf_ = long_tensor(leaves);
  ghost_neighbour_ = long_tensor(leaf_neighbours);
  hops_ = at::tensor(at::ArrayRef<double>(hops), at::TensorOptions().dtype(at::kDouble));
  triplet_a_ = long_tensor(ta);
  triplet_i_ = long_tensor(ti);
  triplet_b_ = long_tensor(tb);
}

at::Tensor DtaeTreeLoss::centroids(const at::Tensor& e) const {
  if (e.dim() != 2 || e.size(0) != num_points_)
    throw std::invalid_argument("DTAE tree loss: expected an embedding of " + std::to_string(num_points_) +
                                " rows, got " + std::to_string(e.dim() == 2 ? e.size(0) : -1));
  // Item 1: cluster means as a scatter-add of the rows (differentiable: its backward is a gather).
  at::Tensor sums = at::zeros({num_clusters_, e.size(1)}, e.options()).index_add(0, labels_, e);
  at::Tensor means = sums / cluster_sizes_.to(e.scalar_type());
  // Item 2: ghosts C_leaf + r (C_leaf - C_neighbour), r = 0.5 in the loss (0.1 for the high-dim ones).
  at::Tensor leaf = means.index_select(0, ghost_leaf_);
  at::Tensor ghosts = leaf + low_ghost_offset_ * (leaf - means.index_select(0, ghost_neighbour_));
  return at::cat({means, ghosts}, 0);
}

namespace {

// |p - q|^2 summed over the coordinates in order from 0 (as torch's sum over the last dim); kDims > 0
// fixes the count at compile time (the 2-D embedding: unrolled), 0 takes `dims`.
template <typename Scalar, int kDims>
inline Scalar squared_distance(const Scalar* p, const Scalar* q, int64_t dims) {
  const int64_t count = kDims > 0 ? kDims : dims;
  Scalar squared = 0;
  for (int64_t j = 0; j < count; ++j) {
    const Scalar diff = p[j] - q[j];
    squared += diff * diff;
  }
  return squared;
}

template <typename Scalar, int kDims>
void scan_two_nearest_fixed(const Scalar* e, const Scalar* c, int64_t n, int64_t vertices, int64_t dims, int64_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const Scalar* point = e + i * dims;
    Scalar best = std::numeric_limits<Scalar>::infinity(), runner_up = best;
    int64_t best_index = 0, runner_up_index = 1;
    for (int64_t v = 0; v < vertices; ++v) {
      // (C - e)^2 as safe_distance computes it.
      const Scalar squared = squared_distance<Scalar, kDims>(c + v * dims, point, dims);
      if (squared < runner_up) {  // rarely true once the first few centroids are seen
        if (squared < best) {
          runner_up = best;
          runner_up_index = best_index;
          best = squared;
          best_index = v;
        } else {
          runner_up = squared;
          runner_up_index = v;
        }
      }
    }
    out[2 * i] = std::min(best_index, runner_up_index);
    out[2 * i + 1] = std::max(best_index, runner_up_index);
  }
}

// Each row of e's two nearest rows of c by squared Euclidean distance, ties to the lower index (as
// two_nearest_centroids), written as sorted pairs. A plain scan: (K+L) is ~50-100, and this was ~10x
// faster than a broadcast n x (K+L) distance matrix plus topk, which had dominated the fine-tuning
// step.
template <typename Scalar>
void scan_two_nearest(const Scalar* e, const Scalar* c, int64_t n, int64_t vertices, int64_t dims, int64_t* out) {
  if (dims == 2)
    scan_two_nearest_fixed<Scalar, 2>(e, c, n, vertices, dims, out);
  else
    scan_two_nearest_fixed<Scalar, 0>(e, c, n, vertices, dims, out);
}

}  // namespace

at::Tensor DtaeTreeLoss::nearest_pairs(const at::Tensor& e, const at::Tensor& c) const {
  if (c.size(0) < 2) throw std::invalid_argument("DTAE tree loss: need at least two centroids");
  const at::Tensor points = e.detach().contiguous(), centroids = c.detach().to(e.scalar_type()).contiguous();
  at::Tensor pairs = at::empty({points.size(0), 2}, at::TensorOptions().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES(points.scalar_type(), "dtae_nearest_pairs", [&] {
    scan_two_nearest<scalar_t>(points.data_ptr<scalar_t>(), centroids.data_ptr<scalar_t>(), points.size(0),
                               centroids.size(0), points.size(1), pairs.data_ptr<int64_t>());
  });
  return pairs;
}

DtaePointTerms DtaeTreeLoss::point_terms(const at::Tensor& e) const { return point_terms(e, centroids(e)); }

DtaePointTerms DtaeTreeLoss::point_terms(const at::Tensor& e, const at::Tensor& c) const {
  const at::Tensor stored_a = c.index_select(0, stored_first_), stored_b = c.index_select(0, stored_second_);
  // nu = d(C_a, C_b) of the stored (high-dim) pair normalises both terms.
  const at::Tensor nu = safe_distance(stored_a, stored_b);
  DtaePointTerms terms;
  // T_i: the elliptical pull towards the segment C_a-C_b, >= 1 with equality on the segment.
  terms.crispness = ((safe_distance(stored_a, e) + safe_distance(stored_b, e)) / nu).pow(2);
  terms.nearest = nearest_pairs(e, c);
  const at::Tensor current_first = terms.nearest.select(1, 0), current_second = terms.nearest.select(1, 1);
  const at::Tensor current =
      ((safe_distance(c.index_select(0, current_first), e) + safe_distance(c.index_select(0, current_second), e)) / nu)
          .pow(2);
  // Weighted by the tree hops between the current pair: a point sitting between far-apart centroids
  // is pushed harder.
  const at::Tensor hop_weight = hops_.to(e.scalar_type()).index_select(0, current_first * num_vertices_ + current_second);
  terms.push_pull = hop_weight * (terms.crispness - current);
  return terms;
}

at::Tensor DtaeTreeLoss::cosine(const at::Tensor& c) const {
  if (triplet_i_.numel() == 0) return at::zeros({}, c.options());
  const at::Tensor middle = c.index_select(0, triplet_i_);
  const at::Tensor incoming = middle - c.index_select(0, triplet_a_);
  const at::Tensor outgoing = c.index_select(0, triplet_b_) - middle;
  return (1.0 - at::cosine_similarity(incoming, outgoing, 1, 1e-8)).mean();
}

DtaeLossTensors DtaeTreeLoss::tree_terms(const at::Tensor& e) const {
  const at::Tensor c = centroids(e);
  const DtaePointTerms terms = point_terms(e, c);
  DtaeLossTensors loss;
  loss.push_pull = terms.push_pull.mean();
  loss.crispness = terms.crispness.mean();
  loss.cosine = cosine(c);
  loss.total = weight_push_pull_ * (loss.push_pull + loss.crispness) + weight_cosine_ * loss.cosine;
  return loss;
}

DtaeTreeGradient DtaeTreeLoss::tree_value_and_gradient(const at::Tensor& embedding) const {
  if (embedding.dim() != 2 || embedding.size(0) != num_points_)
    throw std::invalid_argument("DTAE tree loss: expected an embedding of " + std::to_string(num_points_) + " rows");
  const at::Tensor e_tensor = embedding.detach().to(at::kDouble).contiguous();
  const int64_t n = num_points_, dims = e_tensor.size(1), k = num_clusters_, vertices = num_vertices_;
  const double* e = e_tensor.data_ptr<double>();
  const int64_t* labels = labels_.data_ptr<int64_t>();
  const int64_t* stored_first = stored_first_.data_ptr<int64_t>();
  const int64_t* stored_second = stored_second_.data_ptr<int64_t>();
  const int64_t* leaves = ghost_leaf_.data_ptr<int64_t>();
  const int64_t* leaf_neighbours = ghost_neighbour_.data_ptr<int64_t>();
  const double* sizes = cluster_sizes_.data_ptr<double>();
  const double* hops = hops_.data_ptr<double>();
  const int64_t ghosts = vertices - k;
  const double r = low_ghost_offset_;

  // Items 1-2: cluster means, then the ghosts C_leaf + r (C_leaf - C_neighbour).
  std::vector<double> c(size_t(vertices * dims), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dims; ++j) c[size_t(labels[i] * dims + j)] += e[i * dims + j];
  for (int64_t u = 0; u < k; ++u)
    for (int64_t j = 0; j < dims; ++j) c[size_t(u * dims + j)] /= sizes[u];
  for (int64_t g = 0; g < ghosts; ++g)
    for (int64_t j = 0; j < dims; ++j) {
      const double leaf = c[size_t(leaves[g] * dims + j)], neighbour = c[size_t(leaf_neighbours[g] * dims + j)];
      c[size_t((k + g) * dims + j)] = leaf + r * (leaf - neighbour);
    }

  // Item 3: nearest pairs with the same arithmetic as the distances below (push-pull >= 0 exactly).
  std::vector<int64_t> nearest(size_t(2 * n));
  scan_two_nearest<double>(e, c.data(), n, vertices, dims, nearest.data());

  // Item 4 and its gradient. Per point, with A = d(C_a, e) + d(C_b, e), A' likewise for (a', b'),
  // nu = d(C_a, C_b) and G = G[a', b'], the loss is w_pp / n ((1 + G) (A / nu)^2 - G (A' / nu)^2)
  // (crispness plus push-pull). The gradient of a safe distance d(p, q) is (p - q) / d(p, q) for p
  // while |p - q|^2 >= 1e-6 and 0 under the floor (clamp_min's backward).
  at::Tensor grad_tensor = at::zeros({n, dims}, at::TensorOptions().dtype(at::kDouble));
  double* grad_e = grad_tensor.data_ptr<double>();
  std::vector<double> grad_c(size_t(vertices * dims), 0.0);
  std::vector<double> unit(static_cast<size_t>(dims)), nu_unit(unit.size());
  const double per_point = weight_push_pull_ / double(n);
  double crispness_sum = 0, push_pull_sum = 0;
  // d(p, q) and, into `unit`, its gradient with respect to p.
  auto distance = [&](const double* p, const double* q) {
    double squared = 0;
    for (int64_t j = 0; j < dims; ++j) {
      const double diff = p[j] - q[j];
      squared += diff * diff;
    }
    const bool floored = !(squared >= 1e-6);
    const double d = std::sqrt(floored ? 1e-6 : squared);
    for (int64_t j = 0; j < dims; ++j) unit[size_t(j)] = floored ? 0.0 : (p[j] - q[j]) / d;
    return d;
  };
  // Adds coefficient * d d(C_v, e_i) / d(C_v, e_i) to both sides (it is antisymmetric).
  auto add_distance_grad = [&](int64_t v, const double* point, double coefficient, double* point_grad) {
    distance(&c[size_t(v * dims)], point);
    for (int64_t j = 0; j < dims; ++j) {
      grad_c[size_t(v * dims + j)] += coefficient * unit[size_t(j)];
      point_grad[j] -= coefficient * unit[size_t(j)];
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    const double* point = e + i * dims;
    double* point_grad = grad_e + i * dims;
    const int64_t a = stored_first[i], b = stored_second[i];
    const int64_t a_now = nearest[size_t(2 * i)], b_now = nearest[size_t(2 * i + 1)];
    const double* ca = &c[size_t(a * dims)];
    const double* cb = &c[size_t(b * dims)];
    const double hop = hops[a_now * vertices + b_now];
    const double nu = distance(ca, cb);
    std::copy(unit.begin(), unit.end(), nu_unit.begin());  // d nu / d C_a (= -d nu / d C_b)
    const double stored_sum = distance(ca, point) + distance(cb, point);
    const double current_sum = distance(&c[size_t(a_now * dims)], point) + distance(&c[size_t(b_now * dims)], point);
    const double crispness = (stored_sum / nu) * (stored_sum / nu);
    const double current = (current_sum / nu) * (current_sum / nu);
    crispness_sum += crispness;
    push_pull_sum += hop * (crispness - current);
    const double stored_weight = per_point * (1.0 + hop), current_weight = -per_point * hop;
    const double d_stored_sum = stored_weight * 2.0 * stored_sum / (nu * nu);
    const double d_current_sum = current_weight * 2.0 * current_sum / (nu * nu);
    const double d_nu = -2.0 * (stored_weight * stored_sum * stored_sum + current_weight * current_sum * current_sum) /
                        (nu * nu * nu);
    add_distance_grad(a, point, d_stored_sum, point_grad);
    add_distance_grad(b, point, d_stored_sum, point_grad);
    add_distance_grad(a_now, point, d_current_sum, point_grad);
    add_distance_grad(b_now, point, d_current_sum, point_grad);
    for (int64_t j = 0; j < dims; ++j) {
      grad_c[size_t(a * dims + j)] += d_nu * nu_unit[size_t(j)];
      grad_c[size_t(b * dims + j)] -= d_nu * nu_unit[size_t(j)];
    }
  }

  // Item 5 through autograd: only (K+L) x dims numbers, and at::cosine_similarity's own eps handling.
  DtaeTreeGradient out;
  {
    at::AutoGradMode enable_grad(true);  // also when called under a NoGradGuard
    at::Tensor centroid_leaf =
        at::from_blob(c.data(), {vertices, dims}, at::TensorOptions().dtype(at::kDouble)).clone().requires_grad_(true);
    at::Tensor cosine_loss = cosine(centroid_leaf);
    out.parts.cosine = cosine_loss.item<double>();
    if (cosine_loss.requires_grad()) {  // false without triplets (a constant 0)
      (weight_cosine_ * cosine_loss).backward();
      const at::Tensor cosine_grad = centroid_leaf.grad().contiguous();
      const double* g = cosine_grad.data_ptr<double>();
      for (int64_t q = 0; q < vertices * dims; ++q) grad_c[size_t(q)] += g[q];
    }
  }

  // Back through the ghosts (C_g = (1 + r) C_leaf - r C_neighbour) and the means (1 / n_k each).
  for (int64_t g = 0; g < ghosts; ++g)
    for (int64_t j = 0; j < dims; ++j) {
      const double upstream = grad_c[size_t((k + g) * dims + j)];
      grad_c[size_t(leaves[g] * dims + j)] += (1.0 + r) * upstream;
      grad_c[size_t(leaf_neighbours[g] * dims + j)] -= r * upstream;
    }
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dims; ++j) grad_e[i * dims + j] += grad_c[size_t(labels[i] * dims + j)] / sizes[labels[i]];

  out.parts.crispness = crispness_sum / double(n);
  out.parts.push_pull = push_pull_sum / double(n);
  out.parts.total = weight_push_pull_ * (out.parts.push_pull + out.parts.crispness) + weight_cosine_ * out.parts.cosine;
  out.embedding_grad = grad_tensor.to(embedding.scalar_type());
  return out;
}

DtaeLossTensors DtaeTreeLoss::operator()(const at::Tensor& e, const at::Tensor& reconstruction,
                                         const at::Tensor& x) const {
  DtaeLossTensors loss = tree_terms(e);
  loss.reconstruction = at::mse_loss(reconstruction, x);
  loss.total = loss.total + loss.reconstruction;
  return loss;
}

// ------------------------------------------------------------------ training

namespace {

at::Tensor to_float_tensor(const Matrix& m) {
  return at::from_blob(const_cast<double*>(m.data.data()), {m.rows, m.cols}, at::kDouble).to(at::kFloat).contiguous();
}

Matrix to_matrix(const at::Tensor& t) {
  const at::Tensor d = t.detach().to(at::kDouble).contiguous();
  Matrix m(d.size(0), d.size(1));
  std::memcpy(m.data.data(), d.data_ptr<double>(), m.data.size() * sizeof(double));
  return m;
}

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Stage 1 (pretrain.py): shuffled mini-batches of `batch` rows (the last one partial, as a
// DataLoader without drop_last), one Adam step each; returns the per-epoch mean MSE (weighted by
// batch size, i.e. the mean over the epoch's entries).
std::vector<double> pretrain(DtaeAutoencoder& model, const at::Tensor& x, const DtaeOptions& o) {
  const int64_t n = x.size(0), features = x.size(1), batch = std::min(o.batch, n);
  std::vector<double> curve;
  Progress bar("dtae pretrain", o.pretrain_epochs, "epoch");
  DtaeManualTrainer trainer(model, batch, o.pretrain_lr);
  at::Tensor rows = at::empty({batch, features}, x.options());
  const float* source = x.data_ptr<float>();
  NpyArray given;
  if (!o.pretrain_order.empty()) {
    given = read_npy(o.pretrain_order);
    if (given.shape != std::vector<int64_t>{o.pretrain_epochs, n})
      throw std::invalid_argument(o.pretrain_order + ": expected " + std::to_string(o.pretrain_epochs) + " x " +
                                  std::to_string(n) + " (epochs x cells) indices");
  }
  for (int64_t epoch = 0; epoch < o.pretrain_epochs; ++epoch) {
    std::vector<int64_t> order;
    if (given.data.empty()) {
      order = dtae_pretrain_order(n, o.seed, epoch);
    } else {
      order.assign(given.data.begin() + epoch * n, given.data.begin() + (epoch + 1) * n);
      std::vector<char> seen(size_t(n), 0);
      for (int64_t i : order) {
        if (i < 0 || i >= n || seen[size_t(i)])
          throw std::invalid_argument(o.pretrain_order + ": row " + std::to_string(epoch) + " is not a permutation");
        seen[size_t(i)] = 1;
      }
    }
    double sum = 0;
    for (int64_t start = 0; start < n; start += batch) {
      const int64_t count = std::min(batch, n - start);
      float* target = rows.data_ptr<float>();
      for (int64_t r = 0; r < count; ++r)
        std::memcpy(target + r * features, source + order[size_t(start + r)] * features, size_t(features) * sizeof(float));
      sum += trainer.step(rows.narrow(0, 0, count)) * double(count);
    }
    curve.push_back(sum / double(n));
    bar.set_postfix("mse " + short_number(curve.back()));
    bar.advance();
  }
  trainer.store(model);
  bar.finish();
  return curve;
}

}  // namespace

namespace {
// Pretraining, then `tree()` (which may still be being built), then fine-tuning.
DtaeResult run_dtae(const Matrix& x_matrix, const std::function<const DensityTree&()>& wait_for_tree,
                    const DtaeOptions& o) {
  o.validate();
  if (x_matrix.rows < 2) throw std::invalid_argument("train_dtae: need at least two cells");
  DtaeResult result;
  result.dims = dtae_encoder_dims(x_matrix.cols, o.hidden);
  // Small autoencoders (the reference's 100-32-2, and the bottleneck layers of every config) are
  // made of matrix products too small to share: on 2 cores the 10,000-cell tree trains in 2.4 s on
  // one thread and 4.0 s on two (OpenMP hand-offs per product). The thread count is restored on exit.
  struct ThreadCount {
    int saved = at::get_num_threads();
    ~ThreadCount() { at::set_num_threads(saved); }
  } thread_count;
  const int64_t widest = *std::max_element(result.dims.begin() + 1, result.dims.end());
  if (widest <= 256) at::set_num_threads(1);
  const at::Tensor x = to_float_tensor(x_matrix);

  torch::manual_seed(o.seed);
  DtaeAutoencoder model(DtaeAutoencoderOptions{result.dims});
  auto read_weights = [](const std::string& path) {
    const NpyArray a = read_npy(path);
    return std::vector<float>(a.data.begin(), a.data.end());  // float32 files round-trip exactly
  };
  if (!o.init_weights.empty()) load_dtae_flat_weights(model, read_weights(o.init_weights));
  result.initial_weights = dtae_flat_weights(model);

  auto start = std::chrono::steady_clock::now();
  if (o.pretrained_weights.empty())
    result.pretrain_loss = pretrain(model, x, o);
  else
    load_dtae_flat_weights(model, read_weights(o.pretrained_weights));
  result.pretrain_seconds = seconds_since(start);
  result.pretrained_weights = dtae_flat_weights(model);
  {
    at::NoGradGuard no_grad;
    auto [embedding, reconstruction] = model->forward(x);
    result.pretrained_embedding = to_matrix(embedding);
    result.reconstruction_pretrained = at::mse_loss(reconstruction, x).item<double>();
  }

  const DensityTree& tree = wait_for_tree();
  if (x_matrix.rows != int64_t(tree.labels.size()))
    throw std::invalid_argument("train_dtae: " + std::to_string(x_matrix.rows) + " cells but the density tree has " +
                                std::to_string(tree.labels.size()) + " points");
  const DtaeTreeLoss tree_loss(tree, o);

  // Stage 2 (finetune.py): a fresh Adam, one full-batch step per "epoch". The tree terms and their
  // embedding gradient come from tree_value_and_gradient; the network's backward pass, the MSE and
  // Adam from the manual trainer (both tested against autograd through DtaeTreeLoss::operator()).
  start = std::chrono::steady_clock::now();
  Progress bar("dtae finetune", o.finetune_steps, "step");
  DtaeManualTrainer trainer(model, x.size(0), o.finetune_lr);
  for (int64_t step = 0; step < o.finetune_steps; ++step) {
    const DtaeTreeGradient tree = tree_loss.tree_value_and_gradient(trainer.forward(x).first);
    DtaeLossParts parts = tree.parts;
    parts.reconstruction = trainer.backward_and_step(tree.embedding_grad);
    parts.total += parts.reconstruction;
    result.finetune_loss.push_back(parts);
    bar.set_postfix("loss " + short_number(parts.total));
    bar.advance();
  }
  trainer.store(model);
  bar.finish();
  result.final_weights = dtae_flat_weights(model);
  {
    at::NoGradGuard no_grad;
    auto [embedding, reconstruction] = model->forward(x);
    result.embedding = to_matrix(embedding);
    result.reconstruction_final = at::mse_loss(reconstruction, x).item<double>();
  }
  result.finetune_seconds = seconds_since(start);
  return result;
}
}  // namespace

DtaeResult train_dtae(const Matrix& x, const DensityTree& tree, const DtaeOptions& o) {
  if (x.rows != int64_t(tree.labels.size()))
    throw std::invalid_argument("train_dtae: " + std::to_string(x.rows) + " cells but the density tree has " +
                                std::to_string(tree.labels.size()) + " points");
  return run_dtae(x, [&]() -> const DensityTree& { return tree; }, o);
}

DtaeResult train_dtae_overlapped(const Matrix& x, const std::function<DensityTree()>& build_tree, const DtaeOptions& o,
                                 DensityTree& tree) {
  o.validate();  // before starting the builder (run_dtae validates again; cheap)
  auto future = std::async(std::launch::async, build_tree);
  bool received = false;
  try {
    return run_dtae(x, [&]() -> const DensityTree& {
      tree = future.get();  // rethrows the builder's error
      received = true;
      return tree;
    }, o);
  } catch (...) {
    if (!received && future.valid()) future.wait();  // never leave the builder running on our data
    throw;
  }
}

}  // namespace jess::cells

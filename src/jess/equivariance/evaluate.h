#pragma once
// jess equivariance eval: the 3DIEBench metrics of SIE (Garrido et al. 2023, §5) for a checkpoint of
// jess equivariance train, on frozen representations of every view of the train and val objects.
//  * classification top-1 (val) from the whole representation, its invariant part and its equivariant
//    part (split methods), with a linear and an MLP (1024-1024) head; each training epoch draws one
//    random view per object (the reference's protocol), the val accuracy is over every view;
//  * rotation R^2 and colour R^2 from an MLP (2D-1024-1024-k) on concat(y(v1), y(v2)) of random view
//    pairs, both the reference's R^2 (scalar mean of the targets) and the per-dimension R^2;
//  * MRR and H@1/2/5/10 (val-val): ehat_j = W(q_0->j) e_0 ranked among the object's views;
//  * PRE (val-val): mean (1 - <q_true, q_nn>^2) of the nearest neighbour among all val embeddings.
// The backbone stays in eval mode (the reference's probe scripts call net.train() and so update the
// frozen backbone's BN statistics; not reproduced). Plots: predicted against true rotation components,
// retrieval sheets (source view, true target, top-5 retrieved).
// Light header.
#include <cstdint>
#include <string>
#include <vector>

namespace jess::equivariance {

struct EquivariantEvalOptions {
  std::string data;            // default: the dataset the checkpoint trained on
  int64_t train_objects = 0;   // objects of each split used (0: all)
  int64_t val_objects = 0;
  int64_t epochs = 100;        // probe epochs (Adam 1e-3, batch 256; the reference: 300)
  int64_t pairs_per_object = 10;  // val pairs for the R^2 metrics
  int64_t pre_queries = 10000; // PRE: predictions sampled (0: all; exact nearest neighbours cost O(N^2 V^2))
  bool mlp_heads = true;       // also the MLP classification heads
  bool layers = false;         // also a linear probe at every backbone stage (the Guillotine sweep)
  std::string plots;           // folder for the PNGs ("" : none)
  std::string device = "auto";
  uint64_t seed = 0;
};

struct ClassificationResult {
  std::string part, head;  // part: full | inv | equi; head: linear | mlp
  int64_t dim = 0;
  double top1 = 0;
};
struct RegressionResult {
  std::string target, part;  // target: rotation | color
  double r2 = 0, r2_per_dim = 0;
};

struct EquivariantEvalReport {
  std::string checkpoint, method;
  int64_t train_objects = 0, val_objects = 0, views = 0, representation_dim = 0;
  std::vector<ClassificationResult> classification;
  std::vector<RegressionResult> regression;
  std::vector<ClassificationResult> layers;  // part = the backbone stage (stem, layer1..4), linear head
  bool retrieval = false;  // the method has a predictor (SIE, EquiMod)
  double mrr = 0, h1 = 0, h2 = 0, h5 = 0, h10 = 0, pre = 0;
  int64_t pre_queries = 0;
  double seconds_features = 0, seconds_metrics = 0;
  std::string table() const;
  std::string json() const;
};

EquivariantEvalReport evaluate_equivariant(const std::string& checkpoint, const EquivariantEvalOptions& options);

}  // namespace jess::equivariance

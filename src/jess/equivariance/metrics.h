#pragma once
// The 3DIEBench metrics of SIE (Garrido et al. 2023, §5 and the reference's eval_*.py), on tensors.
// Light header (ATen's Tensor only).
#include <ATen/core/Tensor.h>

#include <cstdint>

namespace jess::equivariance {

// R^2 as the reference computes it: 1 - sum (y - yhat)^2 / sum (y - ybar)^2 with ybar the scalar mean of
// every entry of the (N, k) target. It rewards predicting each component's mean, so it reads higher than
// the per-dimension R^2 when the components' means differ.
double r2_scalar_mean(const at::Tensor& prediction, const at::Tensor& target);
// R^2 per output dimension, averaged over the dimensions the target varies in (scikit-learn's r2_score
// with a uniform average, except that a constant dimension is left out rather than scored 1 or 0).
double r2_per_dimension(const at::Tensor& prediction, const at::Tensor& target);

// scipy's (rot_a.inv() * rot_b).as_quat() for (..., 4) tensors of scipy quaternions (x, y, z, w): scipy's
// inverse negates w, so the sign matches scipy's exactly; `canonical` then flips every q with w < 0.
at::Tensor relative_quaternion(const at::Tensor& qa, const at::Tensor& qb, bool canonical = false);

struct RetrievalMetrics {
  double mrr = 0, h1 = 0, h2 = 0, h5 = 0, h10 = 0;
  int64_t queries = 0;
};
// MRR and H@k (eval_MRR_Hk.py): for each object o and view j, the prediction phat[o, j] (from view 0 and
// the relative rotation 0 -> j) is compared by cosine with the V embeddings e[o, :] of the same object;
// r = 1 + #{views with a strictly higher cosine than view j}. MRR = mean 1/r, H@k = P(r <= k).
// predicted, embeddings: (N, V, d).
RetrievalMetrics retrieval_metrics(const at::Tensor& predicted, const at::Tensor& embeddings);

// PRE (eval_prediction_errors.py): each prediction's nearest neighbour by cosine among all candidate
// embeddings; PRE = mean (1 - <q_true, q_nn>^2) over the predictions, q the absolute rotations (unit
// quaternions; the square makes q and -q equal). predicted (Q, d), true_rotation (Q, 4), candidates
// (M, d), candidate_rotation (M, 4). Blocked over the queries (memory O(block * M)).
double prediction_error(const at::Tensor& predicted, const at::Tensor& true_rotation, const at::Tensor& candidates,
                        const at::Tensor& candidate_rotation, int64_t block = 1024);

}  // namespace jess::equivariance

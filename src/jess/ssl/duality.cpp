// The generic criteria of the duality paper (Garrido et al., ICLR 2023, eq. 1-2), and the BYOL /
// SimSiam prediction criteria.
#include <ATen/ATen.h>

#include "jess/ssl/criteria.h"

namespace jess::ssl {

namespace {
at::Tensor off_diagonal_square_sum(const at::Tensor& g) { return g.pow(2).sum() - g.diagonal().pow(2).sum(); }
}  // namespace

at::Tensor sample_contrastive_criterion(const at::Tensor& z) { return off_diagonal_square_sum(at::matmul(z, z.t())); }
at::Tensor dimension_contrastive_criterion(const at::Tensor& z) { return off_diagonal_square_sum(at::matmul(z.t(), z)); }

at::Tensor byol_criterion(const at::Tensor& prediction, const at::Tensor& target) {
  return (2 - 2 * at::cosine_similarity(prediction, target.detach(), 1, 1e-12)).mean();
}

at::Tensor simsiam_criterion(const at::Tensor& prediction, const at::Tensor& target) {
  return -at::cosine_similarity(prediction, target.detach(), 1, 1e-12).mean();
}

}  // namespace jess::ssl

#pragma once
// The joint-embedding criteria besides VICReg (each in its own file, registered in registry.cpp), and
// the two generic criteria of the duality paper. Embeddings are (B, D): rows are samples.
//  * infonce.cpp        simclr (NT-Xent, Chen et al. 2020), simclr_abs / simclr_sq (|cos|, cos^2 of the
//                       negatives, Garrido et al. 2023), dcl (no positive in the denominator, Yeh et al.)
//  * barlow_twins.cpp   barlow_twins (Zbontar et al. 2021)
//  * vicreg_variants.cpp vicreg_exp, vicreg_ctr (Garrido et al. 2023, eq. 5-6)
//  * self_distillation.cpp the BYOL / SimSiam prediction criterion (the methods add the predictor,
//                       the stop-gradient and the EMA teacher)
#include <ATen/core/Tensor.h>

#include <memory>

#include "jess/ssl/loss.h"

namespace jess::ssl {

std::unique_ptr<JointLoss> make_simclr();
std::unique_ptr<JointLoss> make_simclr_abs();
std::unique_ptr<JointLoss> make_simclr_sq();
std::unique_ptr<JointLoss> make_dcl();
std::unique_ptr<JointLoss> make_barlow_twins();
std::unique_ptr<JointLoss> make_vicreg_exp();
std::unique_ptr<JointLoss> make_vicreg_ctr();

// Duality paper (Garrido et al., ICLR 2023, §3) with K = Z^T (dimensions x samples):
//   sample-contrastive   L_c(K)  = || K^T K - diag(K^T K) ||_F^2  (off-diagonal Gram of the samples)
//   dimension-contrastive L_nc(K) = || K K^T - diag(K K^T) ||_F^2  (off-diagonal Gram of the dimensions)
// Theorem 3.3: L_nc + sum_j ||K_j,.||^4 = L_c + sum_i ||K_.,i||^4.
at::Tensor sample_contrastive_criterion(const at::Tensor& z);
at::Tensor dimension_contrastive_criterion(const at::Tensor& z);

// BYOL (Grill et al. 2020): || p/|p| - t/|t| ||^2 = 2 - 2 cos(p, t) per sample, mean over the batch;
// SimSiam (Chen & He 2021): -cos(p, t). The target t is detached (stop-gradient) here.
at::Tensor byol_criterion(const at::Tensor& prediction, const at::Tensor& target);
at::Tensor simsiam_criterion(const at::Tensor& prediction, const at::Tensor& target);

}  // namespace jess::ssl

#pragma once
// Equivariant joint-embedding methods (Garrido, Najman & LeCun, "Self-supervised learning of split
// invariant-equivariant representations", ICML 2023) and their baselines, on pairs of views
// (y1, y2) of one object related by a known transformation g (the relative rotation as a quaternion,
// optionally with the colour changes). A method owns everything after the backbone — projectors,
// predictor, criterion — and is registered by name (registry.cpp): one file per method family.
//
//   sie, sie_only_equi, sie_no_var, sie_rot_color   sie.cpp
//   equimod (VICReg-based EquiMod)                  equimod.cpp
//   vicreg, simclr, simclr_augself                  baselines.cpp
//
// Heavy header (torch frontend): include it only from the package's translation units and tests.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jess/equivariance/method_options.h"
#include "jess/ssl/loss.h"

namespace jess::equivariance {

// A method's output on one batch of pairs.
struct MethodOutput {
  at::Tensor loss;                                    // scalar with graph
  std::vector<std::pair<std::string, double>> parts;  // unweighted terms, for logs
};

class EquivariantMethod : public torch::nn::Module {
 public:
  virtual std::string name() const = 0;
  // y1, y2: (B, D) representations of the two views; g: (B, transform_dim) the transformation 1 -> 2.
  virtual MethodOutput forward(const at::Tensor& y1, const at::Tensor& y2, const at::Tensor& g) = 0;
  // The representation's invariant part: its first `invariant_dims()` dimensions (0: none); the rest is
  // the equivariant part when `split()` (SIE); otherwise the representation is not split.
  virtual bool split() const { return false; }
  virtual int64_t invariant_dims() const { return 0; }
  // Methods with a transformation-conditioned predictor (SIE, EquiMod): the equivariant embedding of a
  // representation and the predictor applied to it. Others throw std::invalid_argument.
  virtual bool has_predictor() const { return false; }
  virtual at::Tensor equivariant_embedding(const at::Tensor& y);
  virtual at::Tensor predict(const at::Tensor& z, const at::Tensor& g);
  // Data-parallel training: batch statistics over the global batch (identity in one process).
  void set_gather(ssl::Gather g) { gather_ = std::move(g); }

 protected:
  at::Tensor gathered(const at::Tensor& z) const { return gather_ ? gather_(z) : z; }
  ssl::Gather gather_;
};

// The projector sizes of a part holding `share` of the representation: size * share rounded half to even
// each (numpy.round, as SIE's reference).
std::vector<int64_t> scaled_sizes(const std::vector<int64_t>& sizes, double share);

// The registry: sie, sie_only_equi, sie_no_var, sie_rot_color, equimod, vicreg, simclr, simclr_augself.
std::vector<std::string> method_names();
std::shared_ptr<EquivariantMethod> make_method(const std::string& name, const MethodOptions& options);
// The transformation dimension a method needs (6 for sie_rot_color, else 4).
int64_t transform_dim_of(const std::string& name);

// Factories (one per file family), used by the registry.
std::shared_ptr<EquivariantMethod> make_sie(const MethodOptions& o, const std::string& variant);
std::shared_ptr<EquivariantMethod> make_equimod(const MethodOptions& o);
std::shared_ptr<EquivariantMethod> make_baseline(const MethodOptions& o, const std::string& name);

}  // namespace jess::equivariance

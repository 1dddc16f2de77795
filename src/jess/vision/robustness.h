#pragma once
// The robustness benchmark (Ibrahim et al., "The Robustness Limits of SoTA Vision Models to Natural
// Variation"; docs/robustness.md): top-1 accuracy on canonical images and under one factor of
// variation at a time, per level, with the drop and the relative drop against canonical.
//
// Sets: Fashion-MNIST with the controlled 2-D factors of factors.h (test images on a padded canvas;
// the probe is fitted on canonical canvases of training images), or a rendered factor-set file of
// `jess render factors` (held-out objects; the probe is fitted on the canonical images of another
// factor-set file, rendered from the training objects with first_object=0).
// Models: a jess train checkpoint (frozen representation + a linear probe fitted on canonical images),
// or features given as .npy files. Light header.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jess/vision/factors.h"

namespace jess::vision {

struct RobustnessGroup {
  std::string factor;  // "canonical" or a factor name
  std::string level;   // the level as written ("" for canonical)
  double value = 0;    // numeric level (plots' x axis)
};

// Images of every group: images (N, C, S, S) float in [0, 1], labels (N,), group (N,) indices into
// `groups` (group 0 is canonical); probe_images / probe_labels: canonical training images for the probe.
struct RobustnessSet {
  at::Tensor images, labels, group, probe_images, probe_labels;
  std::vector<RobustnessGroup> groups;
  std::vector<std::string> class_names;
  std::string source;
};

struct RobustnessSetOptions {
  std::string data = "fmnist";  // fmnist (Debian's Fashion-MNIST) | a `jess render factors` file
  std::string fmnist_dir;       // default: Debian's Fashion-MNIST
  std::string probe;            // rendered sets: the factor-set file whose canonical images fit the probe
  int64_t n_test = 2000;        // fmnist: test images per level (the first n)
  int64_t n_probe = 10000;      // fmnist: canonical training images for the probe
  std::string factors;          // comma-separated subset ("" = all)
  Factor2dLevels levels;        // fmnist levels
  uint64_t seed = 0;            // textures
};
RobustnessSet make_robustness_set(const RobustnessSetOptions& options);

struct RobustnessLevel {
  std::string factor, level;
  double value = 0;
  int64_t n = 0;
  double top1 = 0, drop = 0, relative_drop = 0;  // drop = canonical - top1; relative = drop / canonical
  std::vector<double> class_top1;               // per class (NaN where a class has no image)
};

struct RobustnessReport {
  std::string model;
  int64_t classes = 0;
  std::vector<std::string> class_names;
  std::vector<RobustnessLevel> rows;  // rows[0]: canonical
  double canonical_top1() const { return rows.empty() ? 0 : rows[0].top1; }
  std::string table(bool per_class = false) const;
  std::string json() const;
};

// Accuracy per group from predictions: predictions, labels, group (N,) int64.
RobustnessReport robustness_report(const at::Tensor& predictions, const at::Tensor& labels, const at::Tensor& group,
                                   const std::vector<RobustnessGroup>& groups, int64_t classes);

// Features -> linear probe (L-BFGS logistic regression, weight decay on a validation split) fitted on the
// probe images' features, then the predictions of every image of the set. `features` maps images to (B, D).
at::Tensor probe_predictions(const std::function<at::Tensor(const at::Tensor&)>& features, const RobustnessSet& set,
                             uint64_t seed = 0);
// The same from precomputed features: probe (P, D) + probe labels, test (N, D).
at::Tensor probe_predictions_from_features(const at::Tensor& probe_x, const at::Tensor& probe_y, const at::Tensor& test_x,
                                           uint64_t seed = 0);

// One PNG per factor in `dir`: top-1 against level, one curve per report, the canonical accuracy as level
// "canonical" (x = the factor's identity value). Returns the paths.
std::vector<std::string> plot_robustness(const std::vector<RobustnessReport>& reports, const std::string& dir);

}  // namespace jess::vision

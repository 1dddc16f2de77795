#pragma once
// Image augmentations for joint-embedding SSL, on batches of image tensors (B, C, H, W) with values in
// [0, 1], in the order of the SimCLR/BYOL/VICReg pipelines: random resized crop (torchvision's
// sampling: area fraction in [scale_min, scale_max], log-uniform aspect ratio, 10 tries then the
// centre), horizontal flip, colour jitter (brightness then contrast, with probability `jitter`),
// Gaussian blur (sigma in [sigma_min, sigma_max], kernel ~10 % of the image side, reflect padding),
// solarisation (x >= 0.5 -> 1 - x), random erasing (a zeroed rectangle of 2-33 % of the area), additive
// Gaussian pixel noise (standard deviation `noise`, then clipped to [0, 1]; 0: off). Each
// view has its own probabilities (VICReg/BYOL: blur 1.0 / 0.1, solarise 0.0 / 0.2); multi-crop adds
// k small views. Every draw depends only on (seed, stream, image index): batches are reproducible
// whatever the thread count. Crops, flips and resizing are one batched grid_sample.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jess {
class ConfigSchema;
}

namespace jess::vision {

struct ViewAugment {
  int64_t size = 28;                          // output side
  double scale_min = 0.2, scale_max = 1.0;    // crop area fraction
  double ratio_min = 3.0 / 4, ratio_max = 4.0 / 3;
  double flip = 0.5;
  double jitter = 0.8, brightness = 0.4, contrast = 0.4;
  double blur = 1.0, sigma_min = 0.1, sigma_max = 2.0;
  double solarize = 0.0;
  double erase = 0.0;
  double noise = 0.0;  // standard deviation of additive Gaussian noise in [0, 1] pixel units (0: off)
  void describe(ConfigSchema& schema, const std::string& prefix);
};

struct AugmentConfig {
  ViewAugment view1, view2;
  int64_t local_crops = 0;  // multi-crop: small views besides the two large ones
  ViewAugment local;
  AugmentConfig();          // VICReg/BYOL asymmetry; local views 12 px of 5-30 % of the area
  void describe(ConfigSchema& schema, const std::string& prefix = "augment.");
  void validate() const;
};

// One augmented view of every image. `stream` separates views (and steps) drawn from one seed; image i
// draws from position first + i of the stream, so a rank's share of a global batch (first: its offset)
// gets the augmentations those images get in one process.
at::Tensor augment_view(const at::Tensor& images, const ViewAugment& options, uint64_t seed, uint64_t stream,
                        int64_t first = 0);

// The views of one batch: view1, view2, then the local crops. step: the batch's global index; first: the
// offset of these images in the global batch (data-parallel shards).
std::vector<at::Tensor> make_image_views(const at::Tensor& images, const AugmentConfig& config, uint64_t seed,
                                         int64_t step, int64_t first = 0);

// `jess vision augment --show`: a PNG grid, one row per image (original, then views). Returns the path.
std::string show_image_augmentations(const at::Tensor& images, const AugmentConfig& config, uint64_t seed,
                                     int64_t views_per_kind, const std::string& path);

}  // namespace jess::vision

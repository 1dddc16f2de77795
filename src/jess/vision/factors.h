#pragma once
// Controlled 2-D factors of variation for grey images with a black background (Fashion-MNIST), the
// offline counterpart of the rendered robustness sets (Ibrahim et al., "The Robustness Limits of SoTA
// Vision Models to Natural Variation"; docs/robustness.md): every image is placed at the centre of a
// padded canvas (the canonical image), then exactly one factor changes:
//   rotation     in-plane, about the canvas centre, degrees (multiples of 90 are exact pixel moves)
//   translation  shift right by `level` canvas pixels (fractional shifts interpolate)
//   scale        zoom about the canvas centre by `level` (1: canonical)
//   background   the black background replaced by a texture (the object's pixels kept where the
//                canonical image's mask — pixel > 0 — says so): level 0 noise, 1 checker, 2 stripes,
//                3 gradient, 4 smooth noise; textures depend on (seed, image index) only
//   brightness   x + level (clipped to [0, 1])
//   contrast     0.5 + level (x - 0.5) (clipped)
//   gamma        x^level
// Levels are named per factor (`Factor2dLevels`); everything is deterministic.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace jess {
class ConfigSchema;
}

namespace jess::vision {

const std::vector<std::string>& factor2d_names();  // rotation, translation, scale, background, brightness, contrast, gamma

// The levels of each factor (comma-separated values), the benchmark's defaults.
struct Factor2dLevels {
  int64_t canvas = 40;  // padded canvas side (28 x 28 images centred; 6 px margins)
  std::string rotation = "15,45,90,135,180";
  std::string translation = "2,4,6";
  std::string scale = "0.5,0.75,1.25,1.5";
  std::string background = "0,1,2,3,4";
  std::string brightness = "0.2,0.4,-0.2";
  std::string contrast = "0.5,0.25,1.5";
  std::string gamma = "0.5,2,3";
  void describe(ConfigSchema& schema, const std::string& prefix = "");
  std::vector<double> levels(const std::string& factor) const;  // ConfigError for an unknown factor or a bad list
};

// The canonical images: (B, 1, h, w) uint8 or float in [0, 1] -> (B, 1, canvas, canvas) float in [0, 1].
at::Tensor canonical_canvas(const at::Tensor& images, int64_t canvas);
// One factor at one level applied to canonical canvases (B, 1, S, S) float; `first_index` numbers the
// images for the seeded textures. `factor` "canonical" returns the input.
at::Tensor apply_factor2d(const at::Tensor& canvases, const std::string& factor, double level, uint64_t seed = 0,
                          int64_t first_index = 0);

// Training with variation (the paper's experiments 2 and 3): training images on the padded canvas, and
// a chosen fraction of the training instances — of every class, or of listed classes only — shown under
// one factor at a random level each time they are drawn; the others always canonical.
struct VariationOptions {
  int64_t canvas = 0;       // > 0: train on canonical canvases of this side (the benchmark's 40)
  std::string factor;       // "" (none) or a factor name
  std::string levels;       // levels drawn uniformly for a varied image ("" = the benchmark's levels)
  double fraction = 1;      // fraction of the eligible training instances shown varied: exactly floor(p n)
  std::string classes;      // comma-separated class indices whose instances may vary ("" = all)
  void describe(ConfigSchema& schema, const std::string& prefix = "variation.");
  void validate() const;    // ConfigError naming the key
  bool active() const { return !factor.empty(); }
  std::vector<double> level_values() const;
};

// Which instances are varied (1) among `labels`: the first floor(fraction * n_eligible) eligible instances
// of a permutation drawn from the seed.
std::vector<uint8_t> varied_instances(const std::vector<int64_t>& labels, const VariationOptions& options, uint64_t seed);

// Training images (B, 1, h, w) float in [0, 1] -> canvases (B, 1, canvas, canvas) (or the images when
// canvas = 0), the varied instances (instance_index into `varied`) under a level drawn from (seed, step,
// first_position + i): first_position is the images' offset in the global batch (data-parallel shards).
at::Tensor training_canvases(const at::Tensor& images, const at::Tensor& instance_index, const std::vector<uint8_t>& varied,
                             const VariationOptions& options, uint64_t seed, int64_t step, int64_t first_position = 0);

}  // namespace jess::vision

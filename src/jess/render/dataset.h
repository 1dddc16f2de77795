#pragma once
// Rendered image datasets with recorded factors (no torch).
//
// `render_dataset` writes 3DIEBench's layout (Garrido et al. 2023; its loader src/dataset.py reads it
// unchanged): <out>/<class>/<object>/image_<i>.jpg|png and latent_<i>.npy (7 float64: extrinsic xyz
// Euler angles, floor hue, spot θ, spot φ, spot hue), {train,val}_images.npy (strings
// "/<class>/<object>") and {train,val}_labels.npy (int64) — plus a packed file for fast training,
// <out>/dataset.h5: images uint8 [objects · views, S, S, 3] (row = object · views + view), factors
// float64 [objects · views, 14] (the 7 latents, then position x, y, scale, background, light hue,
// saturation, intensity), quaternions [objects · views, 4] (scipy's from_euler("xyz").as_quat()),
// per object labels, split (0 train, 1 val), object_index, and object, class and factor names. The folder is built under <out>.tmp.<pid> and renamed at the end: an interrupted run
// leaves no partial dataset. Each object draws from its own stream (seed, class, index), so shards
// (shard_count / shard_index, by object) merge into the same bytes as one run.
//
// `render_factor_sets` writes the robustness benchmark: every object in a canonical setting (upright,
// centred, default size, plain background, white light) and then one factor at a time — pose,
// position, size, background, light colour — at chosen levels, into one packed file.
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "jess/core/config.h"
#include "jess/core/image_io.h"
#include "jess/render/renderer.h"

namespace jess::render {

// The 14 recorded factors of a view, in the packed files' column order.
struct ViewFactors {
  std::array<double, 3> euler{0, 0, 0};  // extrinsic xyz, radians
  double floor_hue = 0, spot_theta = 0, spot_phi = 0, spot_hue = 0;  // spot_hue < 0: a white spot
  double position_x = 0, position_y = 0;  // image widths from the centre, +x right, +y down
  double scale = 1;
  double background = -1;  // -1: 3DIEBench's floor; k >= 0: entry k of the background list
  double light_hue = 0, light_saturation = 0, light_intensity = 1;  // the key lights' colour (white: s = 0)
  std::array<double, 14> as_array() const;
  static ViewFactors from_array(const double* v);
};
constexpr int kFactorCount = 14;
const std::vector<std::string>& factor_names();  // "rot_x", "rot_y", ..., "light_intensity"

// Backgrounds that replace the floor: plain colours, procedural textures, images from a folder.
struct Background {
  std::string name;   // "plain:0.25", "checker", "image:path"
  Vec3 color{0.5, 0.5, 0.5};
  bool has_image = false;
  Image8 image;
};
// `spec`: comma-separated entries — "plain" (a grey), "plain:H" (hue H at s 0.35, v 0.75), "checker",
// "stripes", "noise", "gradient", "folder:PATH" (every PNG/JPEG in PATH, sorted). Throws ConfigError on
// an unknown entry or an empty/missing folder.
std::vector<Background> parse_backgrounds(const std::string& spec, int size, uint64_t seed);

// The factors of view `view` of object `object` of class `cls` under the options' ranges; they depend
// only on (seed, class, object, view), so shards and thread counts do not change them.
struct RenderDatasetOptions;
ViewFactors sample_view(const RenderDatasetOptions& options, const std::string& cls, int64_t object, int64_t view,
                        size_t backgrounds);

// The scene for a view: 3DIEBench's scene with these factors (floor when background < 0).
Scene scene_for(const ViewFactors& f, const std::vector<Background>& backgrounds);

struct RenderDatasetOptions {
  std::string objects = "procedural";  // "procedural" or a folder of meshes: <folder>/<class>/<mesh files>
  std::string classes;                 // comma-separated subset ("" = all)
  int64_t objects_per_class = 20;
  int64_t views_per_object = 50;
  int64_t image_size = 128;
  int64_t samples = 1;                 // multisample anti-aliasing (4: smoother edges at ~half the speed)
  double val_fraction = 0.2;           // of each class's objects, the last ones
  std::string format = "jpg";          // folder images: jpg (3DIEBench's) or png (lossless)
  int64_t jpeg_quality = 95;
  std::string layout = "both";         // both, folder (3DIEBench's) or packed (dataset.h5 only)
  int64_t seed = 0;
  int64_t threads = 0;                 // render threads (0 = one per core); the output does not depend on it
  int64_t shard_index = 0, shard_count = 1;
  // Factor ranges (3DIEBench's by default; the robustness factors off).
  double rotation_range = kPi / 2;     // Euler angles ~ U[-r, r]
  std::string rotation_axes = "xyz";   // the Euler angles drawn; the others stay 0 ("z": a turntable)
  double spot_theta_max = kPi / 4;
  double floor_hue_min = 0, floor_hue_max = 1, spot_hue_min = 0, spot_hue_max = 1;
  double position_range = 0;           // position x, y ~ U[-r, r] (image widths)
  double scale_min = 1, scale_max = 1; // scale ~ log-uniform
  std::string backgrounds;             // "" = the floor; else drawn uniformly from this list
  double light_saturation_max = 0;     // key-light colour HSV(U[0,1), U[0, s], 1)
  double light_intensity_min = 1, light_intensity_max = 1;

  void describe(ConfigSchema& schema);
  void validate() const;  // throws ConfigError naming the field
};

int64_t default_render_threads();

struct RenderSummary {
  std::string out;
  int64_t objects = 0, images = 0;
  double seconds = 0, render_seconds = 0;
  std::string gl;
};

// Writes the dataset into directory `out` (which must not exist yet, unless it is an empty folder).
RenderSummary render_dataset(const RenderDatasetOptions& options, const std::string& out);
// Merges shard folders written with the same options into `out`.
void merge_render_shards(const std::vector<std::string>& shards, const std::string& out);

// The class list and objects of a run: procedural classes, or the sub-folders of a mesh folder.
struct ObjectSource {
  std::vector<std::string> classes;
  std::vector<std::vector<std::string>> meshes;  // per class: mesh file paths (empty: procedural)
  bool procedural = true;
};
ObjectSource list_objects(const std::string& objects, const std::string& classes);
Mesh load_object(const ObjectSource& source, int64_t class_index, int64_t object_index, uint64_t seed);
std::string object_name(const ObjectSource& source, int64_t class_index, int64_t object_index);

// ---- the robustness benchmark ----
struct FactorSetOptions {
  std::string objects = "procedural";
  std::string classes;
  int64_t objects_per_class = 10;
  int64_t first_object = 1000;  // instances disjoint from a training set's (which starts at 0)
  int64_t image_size = 128;
  int64_t samples = 1;
  int64_t seed = 0;
  // Levels of each factor (comma-separated); the canonical value is the first of none of them.
  std::string pose = "15,30,45,90,135,180";                 // rotation angles (degrees) about each axis
  std::string pose_axes = "x,y,z";                          // one factor per axis
  std::string position = "0.1,0.2,0.3";                     // shift right (image widths)
  std::string size = "0.4,0.6,0.8,1.2,1.4,1.6";             // scale
  std::string background = "plain:0.0,plain:0.33,gradient,checker,stripes,noise,clutter";
  std::string light = "0.0,0.16,0.33,0.5,0.66,0.83";        // key-light hue at saturation 0.8
  std::string intensity = "0.4,0.7,1.5";                    // light intensity (canonical 1)
  double canonical_background = 0.5;                        // grey level of the canonical backdrop

  void describe(ConfigSchema& schema);
};
// Writes <out> (HDF5): images [N, S, S, 3], factors [N, 14], labels [N], object [N], set [N] (0 =
// canonical, 1-3 pose about x, y, z, 4 position, 5 size, 6 background, 7 light colour, 8 light
// intensity), level [N]; names as datasets (set_names, factor_names, background_names).
RenderSummary render_factor_sets(const FactorSetOptions& options, const std::string& out);
const std::vector<std::string>& factor_set_names();

// ---- reading back ----
struct PackedDataset {
  std::vector<std::string> classes, objects;
  std::vector<int64_t> labels, split;  // per object; split 0 = train, 1 = val
  int64_t views = 0, size = 0;
};
PackedDataset read_packed_index(const std::string& path);
// Images of one object, [views, S, S, 3], and its factors [views, 14].
std::vector<uint8_t> read_packed_images(const std::string& path, int64_t object);
std::vector<double> read_packed_factors(const std::string& path, int64_t object);

// A PNG contact sheet: one object under every factor (rows: rotation, floor hue, spot, spot hue,
// size, position, background, light), then random views of several classes with their latents.
std::string render_contact_sheet(const RenderDatasetOptions& options, const std::string& path);

}  // namespace jess::render

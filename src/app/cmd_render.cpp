// `jess render dataset | show | factors | merge`: rendered 3-D objects with recorded factors.
#include <cstdio>
#include <memory>

#include "app/commands.h"
#include "jess/core/config.h"
#include "jess/core/progress.h"
#include "jess/render/catalogue.h"
#include "jess/render/dataset.h"
#include "jess/render/mesh_io.h"

namespace jess::app {

namespace {
struct RenderArgs {
  std::string config, out;
  int64_t seed = -1;
  bool print_config = false;
  std::vector<std::string> words;
};

void add_common(CLI::App* cmd, RenderArgs& a, const std::string& out_help) {
  cmd->add_option("--config", a.config, "YAML file of configuration keys")->check(CLI::ExistingFile);
  cmd->add_option("--out,-o", a.out, out_help);
  cmd->add_option("--seed", a.seed, "seed of every random draw (overrides the config's seed)");
  cmd->add_flag("--print-config", a.print_config, "print the effective configuration and exit");
  cmd->add_option("overrides", a.words, "key=value configuration overrides");
}
}  // namespace

void add_render_commands(CLI::App& app, GlobalOptions& global) {
  auto* render = app.add_subcommand(
      "render", "Rendered 3-D objects with controlled factors (OpenGL via Mesa OSMesa): dataset, show, factors, merge, export");
  render->require_subcommand(1);
  std::string classes_line;
  for (const auto& c : render::procedural_classes()) classes_line += (classes_line.empty() ? "" : ", ") + c;

  // ---- dataset
  auto d = std::make_shared<RenderArgs>();
  static render::RenderDatasetOptions dataset_defaults;
  auto* ds = render->add_subcommand(
      "dataset",
      "Render a 3DIEBench-style dataset: <out>/<class>/<object>/image_<i>.jpg + latent_<i>.npy, split files, and "
      "the packed <out>/dataset.h5");
  ds->footer(
      schema_help([](ConfigSchema& s) { dataset_defaults.describe(s); }) +
      "\nThe scene is 3DIEBench's (object normalised to a unit diagonal at the origin, floor at z = -1 in HSV(h, 0.6, 0.6),\n"
      "camera at distance 2.5, theta = pi/4, phi = pi/2, a sun and a spot light on the sphere of radius 4 in\n"
      "HSV(h, 1, 0.8) with a shadow). Each view records 3DIEBench's 7 latents (latent_<i>.npy: rot x, y, z as\n"
      "extrinsic xyz Euler angles, floor hue, spot theta, spot phi, spot hue); dataset.h5 holds all 14 factors and\n"
      "the quaternions (scipy's as_quat order x, y, z, w).\n"
      "Procedural classes: " + classes_line + ".\n"
      "\nExamples:\n  jess render dataset --out ie objects_per_class=200 views_per_object=50 image_size=64\n"
      "  jess render dataset --out ie256 image_size=256 format=png\n"
      "  jess render dataset --out mine objects=/data/meshes   (one sub-folder of meshes per class)\n"
      "  jess render dataset --out part0 shard_count=4 shard_index=0   (then: jess render merge)\n"
      "  jess render dataset --out robust factors.backgrounds=plain,checker,noise factors.scale_min=0.6 "
      "factors.scale_max=1.4 factors.position_range=0.2\n");
  add_common(ds, *d, "output folder (must not exist, or be empty); written under <out>.tmp.<pid> and renamed at the end");
  ds->callback([d, &global] {
    render::RenderDatasetOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, d->config, d->words);
    if (d->seed >= 0) o.seed = d->seed;
    if (d->print_config) {
      std::printf("%s", schema.to_yaml().c_str());
      return;
    }
    if (d->out.empty()) throw ConfigError("--out is required (the dataset folder to create)");
    auto s = render::render_dataset(o, d->out);
    if (!global.quiet)
      std::printf("wrote %s: %lld objects x %lld views = %lld images of %lld^2 in %s (%.0f images/s; rendering alone %.0f "
                  "images/s) on %s\n",
                  s.out.c_str(), (long long)s.objects, (long long)o.views_per_object, (long long)s.images,
                  (long long)o.image_size, format_duration(s.seconds).c_str(), s.images / std::max(1e-9, s.seconds),
                  s.images / std::max(1e-9, s.render_seconds), s.gl.c_str());
  });

  // ---- show
  auto sh = std::make_shared<RenderArgs>();
  auto* show = render->add_subcommand(
      "show", "PNG contact sheet: one object under every factor (rotation, floor hue, spot, size, position, background, "
              "light colour), then random views of every class with their latents");
  show->footer(schema_help([](ConfigSchema& s) { dataset_defaults.describe(s); }) +
               "\nExamples:\n  jess render show --out sheet.png\n  jess render show --out sheet.png image_size=160 "
               "classes=chair,mug,car\n");
  add_common(show, *sh, "PNG file to write (default render_sheet.png)");
  show->callback([sh, &global] {
    render::RenderDatasetOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, sh->config, sh->words);
    if (sh->seed >= 0) o.seed = sh->seed;
    if (sh->print_config) {
      std::printf("%s", schema.to_yaml().c_str());
      return;
    }
    const std::string out = sh->out.empty() ? "render_sheet.png" : sh->out;
    render::render_contact_sheet(o, out);
    if (!global.quiet) std::printf("wrote %s\n", out.c_str());
  });

  // ---- factors
  auto f = std::make_shared<RenderArgs>();
  static render::FactorSetOptions factor_defaults;
  auto* fac = render->add_subcommand(
      "factors",
      "Robustness benchmark images: each object canonical (upright, centred, default size, plain background, white "
      "light), then one factor at a time (pose about x, y, z, position, size, background, light colour and "
      "intensity) at chosen levels");
  fac->footer(schema_help([](ConfigSchema& s) { factor_defaults.describe(s); }) +
              "\nThe HDF5 output holds images [N, S, S, 3], factors [N, 14], labels, object, set (0 canonical, 1-3 pose\n"
              "about x, y, z, 4 position, 5 size, 6 background, 7 light colour, 8 light intensity) and level per image.\n"
              "Evaluate models on it with `jess robustness eval RUN --data FILE --probe PROBE_FILE`.\n"
              "\nExamples:\n  jess render factors --out factors.h5\n"
              "  jess render factors --out f.h5 pose=45,90,180 pose_axes=z background=folder:/data/backgrounds\n");
  add_common(fac, *f, "HDF5 file to write (atomically)");
  fac->callback([f, &global] {
    render::FactorSetOptions o;
    ConfigSchema schema;
    o.describe(schema);
    configure(schema, f->config, f->words);
    if (f->seed >= 0) o.seed = f->seed;
    if (f->print_config) {
      std::printf("%s", schema.to_yaml().c_str());
      return;
    }
    if (f->out.empty()) throw ConfigError("--out is required (the HDF5 file to write)");
    auto s = render::render_factor_sets(o, f->out);
    if (!global.quiet)
      std::printf("wrote %s: %lld objects, %lld images in %s (%.0f images/s)\n", s.out.c_str(), (long long)s.objects,
                  (long long)s.images, format_duration(s.seconds).c_str(), s.images / std::max(1e-9, s.seconds));
  });

  // ---- export
  struct ExportArgs {
    std::string cls, out;
    int64_t instance = 0, seed = 0;
  };
  auto e = std::make_shared<ExportArgs>();
  auto* exp = render->add_subcommand(
      "export", "Write a procedural object as a mesh file (OBJ, PLY, STL, GLB: by extension), normalised as rendered");
  exp->add_option("--class", e->cls, "procedural class: " + classes_line)->required();
  exp->add_option("--instance", e->instance, "instance number (each gives a different object)")->check(CLI::NonNegativeNumber);
  exp->add_option("--seed", e->seed, "seed of the catalogue")->check(CLI::NonNegativeNumber);
  exp->add_option("--out,-o", e->out, "mesh file to write")->required();
  exp->callback([e, &global] {
    if (!render::is_procedural_class(e->cls))
      throw ConfigError("--class: unknown class '" + e->cls + "'");
    const auto mesh = render::make_procedural(e->cls, uint64_t(e->instance), uint64_t(e->seed));
    render::save_mesh(e->out, mesh);
    if (!global.quiet) std::printf("wrote %s: %zu triangles\n", e->out.c_str(), mesh.triangles());
  });

  // ---- merge
  auto out = std::make_shared<std::string>();
  auto shards = std::make_shared<std::vector<std::string>>();
  auto* mer = render->add_subcommand("merge", "Merge shard folders (shard_count > 1) into one dataset, equal to an unsharded run");
  mer->add_option("--out,-o", *out, "merged dataset folder (must not exist)")->required();
  mer->add_option("shards", *shards, "shard folders, any order")->required()->check(CLI::ExistingDirectory);
  mer->callback([out, shards, &global] {
    render::merge_render_shards(*shards, *out);
    if (!global.quiet) std::printf("wrote %s from %zu shards\n", out->c_str(), shards->size());
  });
}

}  // namespace jess::app

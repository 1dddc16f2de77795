// Rendered datasets on disk: 3DIEBench's layout read back equals what was written, the packed file
// holds the same pixels, runs are reproducible to the byte, shards merge into the unsharded run, the
// robustness sets change one factor at a time, and bad input leaves nothing behind.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "jess/core/hdf5_file.h"
#include "jess/core/npy.h"
#include "jess/render/catalogue.h"
#include "jess/render/dataset.h"
#include "jess/render/mesh_io.h"

namespace fs = std::filesystem;
using namespace jess;
using namespace jess::render;

namespace {

// The scratch folder goes when the test binary exits.
struct RemoveScratch {
  ~RemoveScratch() {
    std::error_code ec;
    fs::remove_all("/tmp/jess_render_ds_" + std::to_string(::getpid()), ec);
  }
} remove_scratch;

std::string scratch(const std::string& name) {
  const std::string d = "/tmp/jess_render_ds_" + std::to_string(::getpid()) + "/" + name;
  fs::remove_all(d);
  fs::create_directories(fs::path(d).parent_path());
  return d;
}

RenderDatasetOptions small() {
  RenderDatasetOptions o;
  o.classes = "chair,mug";
  o.objects_per_class = 3;
  o.views_per_object = 4;
  o.image_size = 32;
  o.val_fraction = 0.34;  // 1 of 3 objects per class
  o.format = "png";
  return o;
}

std::string bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool leftovers(const std::string& out) {
  for (const auto& e : fs::directory_iterator(fs::path(out).parent_path()))
    if (e.path().filename().string().rfind(fs::path(out).filename().string() + ".tmp", 0) == 0) return true;
  return fs::exists(out);
}

}  // namespace

TEST(RenderDataset, FolderLayoutReadsBackAndEqualsThePackedFile) {
  const std::string out = scratch("both");
  const auto o = small();
  const auto s = render_dataset(o, out);
  EXPECT_EQ(s.images, 2 * 3 * 4);
  const PackedDataset p = read_packed_index(out + "/dataset.h5");
  ASSERT_EQ(p.objects.size(), 6u);
  EXPECT_EQ(p.views, 4);
  EXPECT_EQ(p.size, 32);
  EXPECT_EQ(p.classes, (std::vector<std::string>{"chair", "mug"}));
  // Split files in 3DIEBench's form: "/<class>/<object>" strings and int64 labels.
  const auto train = read_npy_strings(out + "/train_images.npy"), val = read_npy_strings(out + "/val_images.npy");
  const NpyArray train_labels = read_npy(out + "/train_labels.npy");
  EXPECT_EQ(train.size(), 4u);
  EXPECT_EQ(val.size(), 2u);
  EXPECT_EQ(train_labels.source_dtype, "<i8");
  size_t ti = 0;
  for (size_t k = 0; k < p.objects.size(); ++k) {
    if (p.split[k] == 0) {
      EXPECT_EQ(train[ti], "/" + p.objects[k]);
      EXPECT_EQ(int64_t(train_labels.data[ti]), p.labels[k]);
      ++ti;
    }
    const auto images = read_packed_images(out + "/dataset.h5", int64_t(k));
    const auto factors = read_packed_factors(out + "/dataset.h5", int64_t(k));
    for (int v = 0; v < 4; ++v) {
      const std::string base = out + "/" + p.objects[k] + "/";
      const Image8 img = read_image(base + "image_" + std::to_string(v) + ".png");
      ASSERT_EQ(img.pixels.size(), 32u * 32 * 3);
      EXPECT_TRUE(std::equal(img.pixels.begin(), img.pixels.end(), images.begin() + v * 32 * 32 * 3))
          << p.objects[k] << " view " << v;
      const NpyArray lat = read_npy(base + "latent_" + std::to_string(v) + ".npy");
      ASSERT_EQ(lat.numel(), 7);
      EXPECT_EQ(lat.source_dtype, "<f8");
      for (int j = 0; j < 7; ++j) EXPECT_EQ(lat.data[j], factors[size_t(v * kFactorCount + j)]);
      // 3DIEBench's ranges.
      for (int j = 0; j < 3; ++j) EXPECT_LE(std::abs(lat.data[j]), kPi / 2);
      EXPECT_LE(lat.data[4], kPi / 4);
    }
  }
  // Views of one object differ (a rotation was drawn per view) and the images are not blank.
  const auto images = read_packed_images(out + "/dataset.h5", 0);
  EXPECT_FALSE(std::equal(images.begin(), images.begin() + 3072, images.begin() + 3072));
  // numpy reads the split files as a 3DIEBench loader does.
  const std::string cmd = "/usr/bin/python3 -c \"import numpy as np; s = np.load('" + out + "/train_images.npy'); l = np.load('" + out +
                          "/train_labels.npy'); import sys; sys.exit(0 if s[0][1:].count('/') == 1 and l.dtype == np.int64 "
                          "and len(s) == len(l) == 4 else 1)\"";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(RenderDataset, SameSeedGivesTheSameBytesAndShardsMergeIntoTheUnshardedRun) {
  auto o = small();
  o.layout = "both";
  const std::string a = scratch("a"), b = scratch("b"), c = scratch("c");
  o.threads = 1;
  render_dataset(o, a);
  o.threads = 3;  // more render threads than cores: the same bytes
  render_dataset(o, b);
  EXPECT_EQ(bytes(a + "/dataset.h5"), bytes(b + "/dataset.h5"));
  EXPECT_EQ(bytes(a + "/mug/mug_000001/image_2.png"), bytes(b + "/mug/mug_000001/image_2.png"));
  o.seed = 1;
  render_dataset(o, c);
  EXPECT_NE(bytes(a + "/dataset.h5"), bytes(c + "/dataset.h5"));
  o.seed = 0;
  o.shard_count = 2;
  const std::string s0 = scratch("s0"), s1 = scratch("s1"), merged = scratch("merged");
  o.shard_index = 1;
  render_dataset(o, s1);
  o.shard_index = 0;
  render_dataset(o, s0);
  merge_render_shards({s1, s0}, merged);
  EXPECT_EQ(bytes(a + "/dataset.h5"), bytes(merged + "/dataset.h5"));
  EXPECT_EQ(bytes(a + "/train_images.npy"), bytes(merged + "/train_images.npy"));
  EXPECT_EQ(bytes(a + "/chair/chair_000002/latent_3.npy"), bytes(merged + "/chair/chair_000002/latent_3.npy"));
  EXPECT_THROW(merge_render_shards({s0}, scratch("half")), ConfigError);  // a shard is missing
}

TEST(RenderDataset, UserMeshFoldersRenderLikeProceduralOnes) {
  // A mesh folder per class, written through assimp as OBJ and PLY.
  const std::string meshes = scratch("meshes");
  fs::create_directories(meshes + "/cup");
  fs::create_directories(meshes + "/seat");
  save_mesh(meshes + "/cup/a.obj", make_procedural("mug", 0));
  save_mesh(meshes + "/cup/b.ply", make_procedural("mug", 1));
  save_mesh(meshes + "/seat/a.obj", make_procedural("chair", 0));
  save_mesh(meshes + "/seat/b.ply", make_procedural("chair", 1));
  auto o = small();
  o.objects = meshes;
  o.classes = "";
  o.objects_per_class = 2;
  o.val_fraction = 0.5;
  const std::string out = scratch("user");
  render_dataset(o, out);
  const PackedDataset p = read_packed_index(out + "/dataset.h5");
  EXPECT_EQ(p.classes, (std::vector<std::string>{"cup", "seat"}));
  EXPECT_EQ(p.objects, (std::vector<std::string>{"cup/a", "cup/b", "seat/a", "seat/b"}));
  EXPECT_TRUE(fs::exists(out + "/seat/b/image_3.png"));
}

TEST(RenderDataset, FactorSetsChangeOneFactorAtATime) {
  FactorSetOptions o;
  o.classes = "chair";  // not rotationally symmetric about z
  o.objects_per_class = 2;
  o.image_size = 32;
  o.pose = "0,90";
  o.pose_axes = "z,x";
  o.position = "0.2";
  o.size = "1,0.5";
  o.background = "plain:0.3,checker";
  o.light = "0.3";
  o.intensity = "0.5";
  const std::string out = scratch("factors.h5");
  const auto s = render_factor_sets(o, out);
  const int per_object = 1 + 2 * 2 + 1 + 2 + 2 + 1 + 1;
  EXPECT_EQ(s.images, 2 * per_object);
  H5Reader r(out);
  const auto set = r.read_i64("set"), level = r.read_i64("level"), object = r.read_i64("object");
  const auto factors = r.read_f64("factors");
  auto image = [&](int row) { return r.read_rows_u8("images", uint64_t(row), 1); };
  for (int obj = 0; obj < 2; ++obj) {
    const int base = obj * per_object;
    EXPECT_EQ(set[size_t(base)], 0);
    EXPECT_EQ(object[size_t(base)], obj);
    const auto canonical = image(base);
    for (int k = 1; k < per_object; ++k) {
      const int row = base + k;
      // Exactly the factors of the row's set differ from the canonical ones.
      int changed = 0;
      for (int j = 0; j < kFactorCount; ++j) changed += factors[size_t(row * kFactorCount + j)] != factors[size_t(base * kFactorCount + j)];
      const int64_t st = set[size_t(row)];
      const bool identity_level = ((st == 1 || st == 3) && level[size_t(row)] == 0) || (st == 5 && level[size_t(row)] == 0);
      if (identity_level) {
        EXPECT_EQ(changed, 0);
        EXPECT_EQ(image(row), canonical) << "a level equal to the canonical value renders the canonical image";
      } else {
        EXPECT_EQ(changed, st == 7 ? 2 : 1) << "row " << row;  // light colour: hue and saturation
        EXPECT_NE(image(row), canonical) << "row " << row;
      }
    }
  }
}

TEST(RenderDataset, RotationAxesFixTheOtherAnglesAndKeepEveryOtherDraw) {
  auto all = small(), turntable = small();
  turntable.rotation_axes = "z";
  turntable.rotation_range = kPi;
  all.rotation_range = kPi;
  for (int64_t v = 0; v < 20; ++v) {
    const auto a = sample_view(all, "chair", 1, v, 0), t = sample_view(turntable, "chair", 1, v, 0);
    EXPECT_EQ(t.euler[0], 0.0);
    EXPECT_EQ(t.euler[1], 0.0);
    EXPECT_EQ(t.euler[2], a.euler[2]);  // the same z draw, and every later draw unchanged
    EXPECT_EQ(t.floor_hue, a.floor_hue);
    EXPECT_EQ(t.spot_phi, a.spot_phi);
    EXPECT_EQ(t.spot_hue, a.spot_hue);
  }
  auto bad = small();
  for (const char* axes : {"", "xx", "w", "xyzx"}) {
    bad.rotation_axes = axes;
    EXPECT_THROW(bad.validate(), ConfigError) << axes;
  }
}

TEST(RenderDataset, BadInputGivesAClearErrorAndLeavesNoPartialDataset) {
  auto o = small();
  const std::string out = scratch("bad");
  o.classes = "chair,unicorn";
  try {
    render_dataset(o, out);
    FAIL() << "an unknown class must be refused";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("unicorn"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("chair"), std::string::npos);  // lists the known classes
  }
  EXPECT_FALSE(leftovers(out));
  // A mesh folder with an unreadable mesh fails mid-run: nothing is left behind.
  const std::string meshes = scratch("badmeshes");
  fs::create_directories(meshes + "/thing");
  save_mesh(meshes + "/thing/a.obj", make_procedural("vase", 0));
  std::ofstream(meshes + "/thing/b.obj") << "this is not a mesh\n";
  o = small();
  o.objects = meshes;
  o.classes = "";
  o.objects_per_class = 2;
  EXPECT_ANY_THROW(render_dataset(o, out));
  EXPECT_FALSE(leftovers(out));
  // Missing folder; class folder without meshes; too few meshes for objects_per_class.
  o.objects = meshes + "/nope";
  EXPECT_THROW(render_dataset(o, out), ConfigError);
  fs::create_directories(meshes + "/empty");
  o.objects = meshes;
  EXPECT_THROW(render_dataset(o, out), ConfigError);
  fs::remove_all(meshes + "/empty");
  o.objects_per_class = 5;
  EXPECT_ANY_THROW(render_dataset(o, out));
  EXPECT_FALSE(leftovers(out));
  // A non-empty target is never overwritten; an unwritable parent is refused up front.
  o = small();
  fs::create_directories(out);
  std::ofstream(out + "/keep.txt") << "user data\n";
  EXPECT_THROW(render_dataset(o, out), ConfigError);
  EXPECT_TRUE(fs::exists(out + "/keep.txt"));
  const std::string a_file = scratch("a_file");
  std::ofstream(a_file) << "x";
  EXPECT_THROW(render_dataset(o, a_file + "/sub"), ConfigError);  // the parent is not a folder
  // Invalid values through the schema: zero or negative size, an empty range.
  ConfigSchema schema;
  RenderDatasetOptions v;
  v.describe(schema);
  EXPECT_THROW(schema.set("factors.scale_min", "0", "test"), ConfigError);
  EXPECT_THROW(schema.set("factors.scale_max", "-1", "test"), ConfigError);
  EXPECT_THROW(schema.set("image_size", "0", "test"), ConfigError);
  EXPECT_THROW(schema.set("format", "gif", "test"), ConfigError);
  v.scale_min = 2, v.scale_max = 1;
  EXPECT_THROW(v.validate(), ConfigError);
  FactorSetOptions f;
  f.size = "1,0";
  EXPECT_THROW(render_factor_sets(f, scratch("f.h5")), ConfigError);
  f.size = "1";
  f.background = "plain,wallpaper";
  EXPECT_THROW(render_factor_sets(f, scratch("f.h5")), ConfigError);
}

TEST(RenderDataset, BackgroundLevelsKeepTheObjectPixelsAndClutterAddsOtherObjects) {
  FactorSetOptions o;
  o.classes = "mug,chair";
  o.objects_per_class = 1;
  o.image_size = 48;
  o.pose = o.position = o.size = o.light = o.intensity = "";
  o.background = "checker,clutter:2";
  const std::string out = scratch("clutter.h5");
  render_factor_sets(o, out);
  H5Reader r(out);
  const auto set = r.read_i64("set");
  ASSERT_EQ(set.size(), 6u);  // per object: canonical, checker, clutter
  const auto names = r.read_strings("background_names");
  EXPECT_EQ(names, (std::vector<std::string>{"canonical", "checker", "clutter:2"}));
  const int S = 48;
  const auto canonical = r.read_rows_u8("images", 0, 1), checker = r.read_rows_u8("images", 1, 1), clutter = r.read_rows_u8("images", 2, 1);
  // The object's mask: pixels of the canonical image away from the plain backdrop, and their 4 neighbours too
  // (anti-aliased edges blend with whatever is behind).
  const uint8_t* bg = canonical.data();  // the top-left corner is backdrop
  auto differs = [&](int p) {
    return std::abs(int(canonical[size_t(3 * p)]) - int(bg[0])) + std::abs(int(canonical[size_t(3 * p + 1)]) - int(bg[1])) +
               std::abs(int(canonical[size_t(3 * p + 2)]) - int(bg[2])) > 6;
  };
  int inside = 0, outside_changed = 0, clutter_changed = 0, outside = 0;
  for (int y = 1; y < S - 1; ++y)
    for (int x = 1; x < S - 1; ++x) {
      const int p = y * S + x;
      const bool core = differs(p) && differs(p - 1) && differs(p + 1) && differs(p - S) && differs(p + S);
      if (core) {
        ++inside;
        for (int c = 0; c < 3; ++c) {
          EXPECT_EQ(checker[size_t(3 * p + c)], canonical[size_t(3 * p + c)]) << "pixel " << p;
          EXPECT_EQ(clutter[size_t(3 * p + c)], canonical[size_t(3 * p + c)]) << "pixel " << p;
        }
      } else if (!differs(p)) {
        ++outside;
        bool ch = false, cl = false;
        for (int c = 0; c < 3; ++c) {
          ch = ch || checker[size_t(3 * p + c)] != canonical[size_t(3 * p + c)];
          cl = cl || clutter[size_t(3 * p + c)] != canonical[size_t(3 * p + c)];
        }
        outside_changed += ch, clutter_changed += cl;
      }
    }
  EXPECT_GT(inside, 50);
  EXPECT_GT(outside_changed, outside / 2);  // the checkerboard replaces the backdrop
  EXPECT_GT(clutter_changed, 20);           // other objects appear behind
  EXPECT_LT(clutter_changed, outside / 2);  // ...but small, on the backdrop
  o.background = "clutter:9";
  EXPECT_THROW(render_factor_sets(o, scratch("bad.h5")), ConfigError);
}

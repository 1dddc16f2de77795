// The view-pair loader over rendered datasets: packed and folder layouts give the same batches,
// batches depend only on (seed, epoch, step), prefetching changes nothing, every object appears once
// per epoch with two distinct views, and the relative rotation is 3DIEBench's rot_1.inv() * rot_2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <set>

#include "jess/data/rendered_pairs.h"
#include "jess/render/dataset.h"
#include "jess/render/geometry.h"

namespace fs = std::filesystem;
using namespace jess;

namespace {
struct RemoveDataset {
  ~RemoveDataset() {
    std::error_code ec;
    fs::remove_all("/tmp/jess_pairs_" + std::to_string(::getpid()), ec);
  }
} remove_dataset;

const std::string& dataset() {
  static const std::string out = [] {
    const std::string d = "/tmp/jess_pairs_" + std::to_string(::getpid());
    fs::remove_all(d);
    render::RenderDatasetOptions o;
    o.classes = "mug,table,lamp";
    o.objects_per_class = 4;
    o.views_per_object = 5;
    o.image_size = 24;
    o.val_fraction = 0.25;
    o.format = "png";
    render::render_dataset(o, d);
    return d;
  }();
  return out;
}
}  // namespace

TEST(RenderedPairs, PackedAndFolderLayoutsGiveTheSameBatches) {
  data::RenderedPairOptions o;
  o.path = dataset();
  o.batch = 4;
  o.prefetch = 0;
  data::RenderedPairLoader packed(o);
  o.prefer_folder = true;
  data::RenderedPairLoader folder(o);
  EXPECT_EQ(packed.source(), "packed");
  EXPECT_EQ(folder.source(), "folder");
  EXPECT_EQ(packed.objects(), 9);  // 3 of 4 objects per class in train
  EXPECT_EQ(folder.objects(), 9);
  EXPECT_EQ(packed.views(), 5);
  EXPECT_EQ(folder.views(), 5);
  EXPECT_EQ(packed.classes(), 3);
  for (int64_t step = 0; step < packed.steps_per_epoch(); ++step) {
    const auto a = packed.batch(1, step), b = folder.batch(1, step);
    EXPECT_TRUE(at::equal(a.view1, b.view1));
    EXPECT_TRUE(at::equal(a.view2, b.view2));
    EXPECT_TRUE(at::equal(a.labels, b.labels));
    EXPECT_TRUE(at::allclose(a.factors1.narrow(1, 0, 7), b.factors1));
    EXPECT_TRUE(at::equal(a.relative_rotation, b.relative_rotation));
  }
}

TEST(RenderedPairs, BatchesDependOnlyOnSeedEpochAndStep) {
  data::RenderedPairOptions o;
  o.path = dataset();
  o.batch = 3;
  o.prefetch = 2;
  data::RenderedPairLoader loader(o);
  ASSERT_EQ(loader.steps_per_epoch(), 3);
  for (int64_t epoch : {0, 1}) {
    loader.start_epoch(epoch);
    data::RenderedPairBatch b;
    std::set<int64_t> seen;
    int64_t step = 0;
    while (loader.next(b)) {
      const auto direct = loader.batch(epoch, step++);
      EXPECT_TRUE(at::equal(b.view1, direct.view1));
      EXPECT_TRUE(at::equal(b.objects, direct.objects));
      for (int64_t k = 0; k < b.objects.size(0); ++k) {
        seen.insert(b.objects[k].item<int64_t>());
        EXPECT_NE(b.view_index1[k].item<int64_t>(), b.view_index2[k].item<int64_t>());
        // The relative rotation: scipy's rot_1.inv() * rot_2 from the two views' Euler angles.
        auto f1 = b.factors1[k], f2 = b.factors2[k];
        const auto q = render::relative_rotation(
            render::euler_xyz_to_quat({f1[0].item<double>(), f1[1].item<double>(), f1[2].item<double>()}),
            render::euler_xyz_to_quat({f2[0].item<double>(), f2[1].item<double>(), f2[2].item<double>()}));
        EXPECT_NEAR(b.relative_rotation[k][0].item<float>(), q.x, 1e-6);
        EXPECT_NEAR(b.relative_rotation[k][3].item<float>(), q.w, 1e-6);
        // Views of one object share the object; different views have different rotations.
        EXPECT_FALSE(at::equal(b.view1[k], b.view2[k]));
      }
    }
    EXPECT_EQ(step, 3);
    EXPECT_EQ(seen.size(), 9u) << "every training object once per epoch";
  }
  EXPECT_FALSE(at::equal(loader.batch(0, 0).objects, loader.batch(1, 0).objects));  // a new order per epoch
  o.seed = 5;
  data::RenderedPairLoader other(o);
  EXPECT_FALSE(at::equal(loader.batch(0, 0).view_index1, other.batch(0, 0).view_index1));
}

TEST(RenderedPairs, BadInputGivesClearErrors) {
  data::RenderedPairOptions o;
  o.path = "/nonexistent/ie";
  EXPECT_THROW(data::RenderedPairLoader{o}, ConfigError);
  o.path = dataset();
  o.split = "test";
  EXPECT_THROW(data::RenderedPairLoader{o}, ConfigError);
  o.split = "val";
  o.batch = 50;
  EXPECT_THROW(data::RenderedPairLoader{o}, ConfigError);  // more than the 3 val objects
}

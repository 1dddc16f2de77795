// Controlled 2-D factors (robustness benchmark on Fashion-MNIST): each factor changes only what it names.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "jess/core/config.h"
#include "jess/vision/factors.h"
#include "jess/vision/idx.h"
#include "jess/vision/robustness.h"

namespace v = jess::vision;

namespace {
at::Tensor first_test_images(int64_t n) {
  auto set = v::load_mnist_layout(v::default_fashion_mnist_dir(), "test");
  return at::from_blob(set.pixels.data(), {set.n, 1, set.height, set.width}, at::kByte).narrow(0, 0, n).clone();
}
// Intensity-weighted centroid (x, y) of each canvas, in pixels.
at::Tensor centroids(const at::Tensor& c) {
  const int64_t S = c.size(2);
  auto coords = at::arange(S, at::kFloat) + 0.5;
  auto m = c.sum({1, 2, 3});
  auto cx = (c.sum({1, 2}) * coords).sum(1) / m, cy = (c.sum({1, 3}) * coords).sum(1) / m;
  return at::stack({cx, cy}, 1);
}
}  // namespace

TEST(Factors2d, CanonicalCanvasCentresTheImage) {
  auto img = first_test_images(4);
  auto c = v::canonical_canvas(img, 40);
  ASSERT_EQ(c.sizes(), at::IntArrayRef({4, 1, 40, 40}));
  EXPECT_TRUE(at::equal(c.narrow(2, 6, 28).narrow(3, 6, 28), img.to(at::kFloat) / 255.0));
  EXPECT_EQ(c.sum().item<double>(), (img.to(at::kFloat) / 255.0).sum().item<double>());  // nothing outside
  EXPECT_THROW(v::canonical_canvas(img, 20), c10::Error);
}

TEST(Factors2d, FourQuarterTurnsAreTheIdentityAndTheDirectionIsConsistent) {
  auto c = v::canonical_canvas(first_test_images(6), 40);
  auto r = c;
  for (int k = 0; k < 4; ++k) r = v::apply_factor2d(r, "rotation", 90);
  EXPECT_TRUE(at::equal(r, c));
  EXPECT_FALSE(at::equal(v::apply_factor2d(c, "rotation", 90), c));
  // The interpolated path turns the same way as the exact one (counter-clockwise).
  auto exact = v::apply_factor2d(c, "rotation", 90), interp = v::apply_factor2d(c, "rotation", 89.999);
  EXPECT_LT((exact - interp).abs().max().item<double>(), 0.02);
  EXPECT_GT((v::apply_factor2d(c, "rotation", -90) - interp).abs().max().item<double>(), 0.5);
  // 45 + 45 ~ 90 (up to interpolation blur).
  auto twice = v::apply_factor2d(v::apply_factor2d(c, "rotation", 45), "rotation", 45);
  EXPECT_LT((twice - exact).abs().mean().item<double>(), 0.03);
}

TEST(Factors2d, ScaleKeepsTheCentreAndTranslationMovesOnlyX) {
  auto c = v::canonical_canvas(first_test_images(8), 40);
  auto c0 = centroids(c);
  for (double s : {0.5, 0.75, 1.25}) {
    auto cs = centroids(v::apply_factor2d(c, "scale", s));
    // Zoom about the canvas centre: the centroid's offset from the centre scales by s.
    EXPECT_LT(((cs - 20) - s * (c0 - 20)).abs().max().item<double>(), 0.3) << s;
  }
  auto t = v::apply_factor2d(c, "translation", 3);
  auto ct = centroids(t);
  EXPECT_LT((ct.select(1, 0) - c0.select(1, 0) - 3).abs().max().item<double>(), 1e-3);
  EXPECT_LT((ct.select(1, 1) - c0.select(1, 1)).abs().max().item<double>(), 1e-3);
  // An integer shift inside the margin is a pixel move.
  auto rolled = at::roll(c, {3}, {3});
  EXPECT_LT((t - rolled).abs().max().item<double>(), 1e-5);
}

TEST(Factors2d, BackgroundKeepsTheObjectPixelsAndIsSeeded) {
  auto c = v::canonical_canvas(first_test_images(5), 40);
  auto mask = c.gt(0);
  for (int kind = 0; kind <= 4; ++kind) {
    auto b = v::apply_factor2d(c, "background", kind, 7, 100);
    EXPECT_TRUE(at::equal(b.masked_select(mask), c.masked_select(mask))) << kind;
    EXPECT_GT(b.masked_select(mask.logical_not()).mean().item<double>(), 0.05) << kind;  // the black is gone
    EXPECT_TRUE(at::equal(b, v::apply_factor2d(c, "background", kind, 7, 100)));       // deterministic
    EXPECT_FALSE(at::equal(b, v::apply_factor2d(c, "background", kind, 8, 100)));      // seeded
  }
}

TEST(Factors2d, PhotometricFactorsOnHandValues) {
  auto x = at::tensor({0.0f, 0.25f, 0.5f, 1.0f}).view({1, 1, 2, 2});
  EXPECT_TRUE(at::allclose(v::apply_factor2d(x, "brightness", 0.2), at::tensor({0.2f, 0.45f, 0.7f, 1.0f}).view({1, 1, 2, 2})));
  EXPECT_TRUE(at::allclose(v::apply_factor2d(x, "contrast", 0.5), at::tensor({0.25f, 0.375f, 0.5f, 0.75f}).view({1, 1, 2, 2})));
  EXPECT_TRUE(at::allclose(v::apply_factor2d(x, "gamma", 2), at::tensor({0.0f, 0.0625f, 0.25f, 1.0f}).view({1, 1, 2, 2})));
}

TEST(Factors2d, LevelsAreValidated) {
  v::Factor2dLevels l;
  EXPECT_EQ(l.levels("rotation").size(), 5u);
  EXPECT_THROW(l.levels("pose"), jess::ConfigError);
  l.scale = "0.5,abc";
  EXPECT_THROW(l.levels("scale"), jess::ConfigError);
  l.background = "7";
  EXPECT_THROW(l.levels("background"), jess::ConfigError);
  EXPECT_THROW(v::apply_factor2d(at::zeros({1, 1, 4, 4}), "blur", 1), jess::ConfigError);
}

TEST(Variation, ExactlyFloorPnInstancesAreVariedAndOnlyOfTheListedClasses) {
  std::vector<int64_t> labels;
  for (int i = 0; i < 1003; ++i) labels.push_back(i % 10);
  v::VariationOptions o;
  o.canvas = 40;
  o.factor = "rotation";
  for (double p : {0.0, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0}) {
    o.fraction = p;
    auto varied = v::varied_instances(labels, o, 3);
    int64_t n = 0;
    for (auto x : varied) n += x;
    EXPECT_EQ(n, int64_t(std::floor(p * 1003 + 1e-9))) << p;
  }
  o.fraction = 0.5;
  o.classes = "0,3";
  auto varied = v::varied_instances(labels, o, 3);
  int64_t n = 0, eligible = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const bool ok = labels[i] == 0 || labels[i] == 3;
    eligible += ok;
    n += varied[i];
    if (!ok) EXPECT_EQ(varied[i], 0) << i;
  }
  EXPECT_EQ(n, eligible / 2);
  // Another seed picks other instances.
  EXPECT_NE(v::varied_instances(labels, o, 4), varied);
  o.classes = "a";
  EXPECT_THROW(o.validate(), jess::ConfigError);
  o.classes = "";
  o.canvas = 0;
  EXPECT_THROW(o.validate(), jess::ConfigError);  // a factor needs the canvas
}

TEST(Variation, OnlyTheVariedInstancesChange) {
  auto img = first_test_images(16).to(at::kFloat) / 255.0;
  v::VariationOptions o;
  o.canvas = 40;
  o.factor = "rotation";
  o.levels = "90,180";
  std::vector<uint8_t> varied(16, 0);
  for (int i = 0; i < 16; i += 3) varied[size_t(i)] = 1;
  auto idx = at::arange(16, at::kLong);
  auto c = v::training_canvases(img, idx, varied, o, 1, 7);
  auto canonical = v::canonical_canvas(img, 40);
  for (int64_t i = 0; i < 16; ++i) {
    const bool same = at::equal(c[i], canonical[i]);
    EXPECT_EQ(same, !varied[size_t(i)]) << i;
    if (varied[size_t(i)]) {  // a quarter or half turn of the canonical canvas
      const bool quarter = at::equal(c[i], at::rot90(canonical[i], 1, {1, 2})), half = at::equal(c[i], at::rot90(canonical[i], 2, {1, 2}));
      EXPECT_TRUE(quarter || half) << i;
    }
  }
  EXPECT_TRUE(at::equal(c, v::training_canvases(img, idx, varied, o, 1, 7)));  // deterministic per (seed, step)
}

TEST(RobustnessReport, AccuracyDropAndPerClassFromPredictions) {
  // 3 groups: canonical (4 images), rotation:90 (4), scale:0.5 (2; class 1 absent).
  std::vector<v::RobustnessGroup> groups = {{"canonical", "", 0}, {"rotation", "90", 90}, {"scale", "0.5", 0.5}};
  auto labels = at::tensor({0, 0, 1, 1, 0, 0, 1, 1, 0, 0}, at::kLong);
  auto pred = at::tensor({0, 0, 1, 0, 0, 1, 0, 0, 0, 1}, at::kLong);
  auto group = at::tensor({0, 0, 0, 0, 1, 1, 1, 1, 2, 2}, at::kLong);
  auto r = v::robustness_report(pred, labels, group, groups, 2);
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_DOUBLE_EQ(r.rows[0].top1, 0.75);
  EXPECT_DOUBLE_EQ(r.rows[1].top1, 0.25);
  EXPECT_DOUBLE_EQ(r.rows[1].drop, 0.5);
  EXPECT_DOUBLE_EQ(r.rows[1].relative_drop, 0.5 / 0.75);
  EXPECT_DOUBLE_EQ(r.rows[0].class_top1[0], 1.0);
  EXPECT_DOUBLE_EQ(r.rows[0].class_top1[1], 0.5);
  EXPECT_DOUBLE_EQ(r.rows[2].class_top1[0], 0.5);
  EXPECT_TRUE(std::isnan(r.rows[2].class_top1[1]));
  EXPECT_NE(r.json().find("null"), std::string::npos);  // the absent class
  // Bad input is refused with a message.
  EXPECT_THROW(v::robustness_report(pred.narrow(0, 0, 9), labels, group, groups, 2), std::invalid_argument);
  EXPECT_THROW(v::robustness_report(pred, labels, group + 1, groups, 2), std::invalid_argument);
}

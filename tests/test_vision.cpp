// The vision package: IDX reading (Fashion-MNIST's format), against files written here and the real
// Debian dataset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <numeric>

#include <ATen/ATen.h>

#include "jess/vision/augment.h"
#include "jess/vision/idx.h"

using namespace jess::vision;

namespace {
std::string temp_path(const std::string& name) { return "/tmp/jess_test_vision_" + std::to_string(getpid()) + "_" + name; }

void write_raw(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const IdxError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Idx, BytesRoundTripPlainAndGzipped) {
  std::vector<uint8_t> data(2 * 3 * 4);
  std::iota(data.begin(), data.end(), uint8_t(250));  // wraps: 250..255, 0..17
  for (const char* name : {"a.idx", "a.idx.gz"}) {
    const std::string p = temp_path(name);
    write_idx_u8(p, {2, 3, 4}, data);
    auto a = read_idx(p);
    EXPECT_EQ(a.type, 0x08);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{2, 3, 4}));
    EXPECT_EQ(a.bytes, data);
    EXPECT_EQ(a.bytes[6], 0);
    std::remove(p.c_str());
  }
}

TEST(Idx, AHeaderDeclaringGigabytesIsATruncationErrorNotAnAllocation) {
  // Found by fuzz/fuzz_idx: 2 x 0x02030405 uint8 declared (~68 GB), 16 bytes present. The reader must
  // not try to allocate the declared size (AddressSanitizer: out of memory) but report the truncation.
  const std::string p = temp_path("huge.idx");
  write_raw(p, {0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17});
  const std::string e = error_of([&] { read_idx(p); });
  EXPECT_NE(e.find("is truncated: 10 of 69"), std::string::npos) << e;
  std::remove(p.c_str());
}

TEST(Idx, DecodesBigEndianWiderTypes) {
  const std::string p = temp_path("w.idx");
  // int16 (0x0B): -2 = 0xFFFE, 258 = 0x0102
  write_raw(p, {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x02});
  auto a = read_idx(p);
  EXPECT_EQ(a.values, (std::vector<double>{-2, 258}));
  // float32 (0x0D): 1.5 = 0x3FC00000; float64 (0x0E): -0.25 = 0xBFD0000000000000
  write_raw(p, {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0});
  EXPECT_EQ(read_idx(p).values[0], 1.5);
  write_raw(p, {0, 0, 0x0E, 1, 0, 0, 0, 1, 0xBF, 0xD0, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(read_idx(p).values[0], -0.25);
  std::remove(p.c_str());
}

TEST(Idx, MalformedFilesGiveClearErrors) {
  const std::string p = temp_path("bad.idx");
  EXPECT_NE(error_of([&] { read_idx(temp_path("missing.idx")); }).find("does not exist"), std::string::npos);
  write_raw(p, {0, 0, 0x08});
  EXPECT_NE(error_of([&] { read_idx(p); }).find("shorter than the 4-byte"), std::string::npos);
  write_raw(p, {'P', 'K', 3, 4, 0, 0});
  EXPECT_NE(error_of([&] { read_idx(p); }).find("not an IDX file"), std::string::npos);
  write_raw(p, {0, 0, 0x08, 2, 0, 0, 0, 2});
  EXPECT_NE(error_of([&] { read_idx(p); }).find("inside its header"), std::string::npos);
  write_raw(p, {0, 0, 0x08, 1, 0, 0, 0, 5, 1, 2, 3});
  EXPECT_NE(error_of([&] { read_idx(p); }).find("truncated: 3 of 5"), std::string::npos);
  write_raw(p, {0, 0, 0x08, 1, 0, 0, 0, 1, 1, 2});
  EXPECT_NE(error_of([&] { read_idx(p); }).find("after the declared data"), std::string::npos);
  std::remove(p.c_str());
  // Images and labels that disagree.
  const std::string dir = temp_path("dir");
  ASSERT_EQ(system(("mkdir -p " + dir).c_str()), 0);
  write_idx_u8(dir + "/train-images-idx3-ubyte", {3, 2, 2}, std::vector<uint8_t>(12, 1));
  write_idx_u8(dir + "/train-labels-idx1-ubyte", {2}, {0, 1});
  EXPECT_NE(error_of([&] { load_mnist_layout(dir, "train"); }).find("3 images but"), std::string::npos);
  EXPECT_NE(error_of([&] { load_mnist_layout(dir, "test"); }).find("no test images"), std::string::npos);
  ASSERT_EQ(system(("rm -rf " + dir).c_str()), 0);
}

// Debian's dataset-fashion-mnist (installed by scripts/setup.sh): known sizes and values.
TEST(Idx, ReadsFashionMnist) {
  auto train = load_mnist_layout(default_fashion_mnist_dir(), "train");
  EXPECT_EQ(train.n, 60000);
  EXPECT_EQ(train.height, 28);
  EXPECT_EQ(train.width, 28);
  EXPECT_EQ(train.classes, 10);
  EXPECT_EQ(std::vector<int64_t>(train.labels.begin(), train.labels.begin() + 10),
            (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  std::vector<int64_t> per_class(10, 0);
  for (int64_t l : train.labels) ++per_class[size_t(l)];
  EXPECT_EQ(per_class, std::vector<int64_t>(10, 6000));
  int64_t sum = 0;
  for (int i = 0; i < 28 * 28; ++i) sum += train.pixels[size_t(i)];
  EXPECT_EQ(sum, 76247);  // the first image (an ankle boot)
  const std::vector<uint8_t> row14(train.pixels.begin() + 14 * 28, train.pixels.begin() + 14 * 28 + 8);
  EXPECT_EQ(row14, (std::vector<uint8_t>{0, 0, 1, 4, 6, 7, 2, 0}));
  EXPECT_EQ(load_mnist_layout(default_fashion_mnist_dir(), "test").n, 10000);
}

// ---------------------------------------------------------------- augmentations

namespace {
ViewAugment nothing(int64_t size) {  // identity pipeline: full crop, no flip/jitter/blur/solarise/erase
  ViewAugment o;
  o.size = size;
  o.scale_min = o.scale_max = 1;
  o.ratio_min = o.ratio_max = 1;
  o.flip = o.jitter = o.blur = o.solarize = o.erase = 0;
  return o;
}
at::Tensor ramp(int64_t B, int64_t C, int64_t H, int64_t W) {
  return (at::arange(B * C * H * W, at::kFloat) / double(B * C * H * W)).view({B, C, H, W});
}
}  // namespace

TEST(Augment, IdentityFlipAndSolariseAreExact) {
  auto x = ramp(3, 1, 8, 8);
  auto o = nothing(8);
  EXPECT_LT((augment_view(x, o, 1, 0) - x).abs().max().item<double>(), 1e-6);
  o.flip = 1;
  EXPECT_LT((augment_view(x, o, 1, 0) - x.flip(3)).abs().max().item<double>(), 1e-6);
  o.flip = 0;
  o.solarize = 1;
  EXPECT_LT((augment_view(x, o, 1, 0) - at::where(x >= 0.5, 1 - x, x)).abs().max().item<double>(), 1e-6);
}

TEST(Augment, CropsAreWindowsOfTheImage) {
  // Area 1/4, ratio 1, output = crop side: every view is exactly one 4 x 4 window of the 8 x 8 image.
  auto x = ramp(5, 1, 8, 8);
  auto o = nothing(4);
  o.scale_min = o.scale_max = 0.25;
  auto v = augment_view(x, o, 7, 3);
  int distinct_positions = 0;
  std::vector<bool> seen(25, false);
  for (int64_t i = 0; i < 5; ++i) {
    int found = -1;
    for (int t = 0; t <= 4 && found < 0; ++t)
      for (int l = 0; l <= 4 && found < 0; ++l)
        if ((v[i][0] - x[i][0].narrow(0, t, 4).narrow(1, l, 4)).abs().max().item<double>() < 1e-6) found = t * 5 + l;
    ASSERT_GE(found, 0) << "view " << i << " is not a window";
    if (!seen[size_t(found)]) seen[size_t(found)] = true, ++distinct_positions;
  }
  EXPECT_GE(distinct_positions, 2);  // positions are drawn, not fixed
}

TEST(Augment, JitterBlurAndErasingBehave) {
  auto x = ramp(4, 1, 16, 16) * 0.5 + 0.1;
  auto o = nothing(16);
  o.jitter = 1, o.contrast = 0;  // brightness only: one factor per image in [0.6, 1.4]
  auto v = augment_view(x, o, 2, 0);
  for (int64_t i = 0; i < 4; ++i) {
    auto ratio = v[i] / x[i];
    EXPECT_LT((ratio - ratio.mean()).abs().max().item<double>(), 1e-5);
    EXPECT_GE(ratio.mean().item<double>(), 0.6 - 1e-6);
    EXPECT_LE(ratio.mean().item<double>(), 1.4 + 1e-6);
  }
  // Blur: a constant image stays constant; an impulse spreads symmetrically and keeps its mass.
  o = nothing(40);
  o.blur = 1;
  o.sigma_min = o.sigma_max = 1.0;
  auto flat = at::full({2, 1, 40, 40}, 0.3f);
  EXPECT_LT((augment_view(flat, o, 3, 0) - 0.3).abs().max().item<double>(), 1e-6);
  auto impulse = at::zeros({1, 1, 40, 40});
  impulse[0][0][20][20] = 1;
  auto b = augment_view(impulse, o, 3, 0)[0][0];
  EXPECT_NEAR(b.sum().item<double>(), 1.0, 1e-5);
  EXPECT_LT(b[20][20].item<double>(), 0.5);
  EXPECT_NEAR(b[19][20].item<double>(), b[21][20].item<double>(), 1e-7);
  EXPECT_NEAR(b[20][19].item<double>(), b[19][20].item<double>(), 1e-7);
  // Erasing: a zeroed rectangle of 2-33 % of the area.
  o = nothing(20);
  o.erase = 1;
  auto ones = at::ones({6, 1, 20, 20});
  auto e = augment_view(ones, o, 4, 0);
  for (int64_t i = 0; i < 6; ++i) {
    const double zero = (e[i] == 0).to(at::kDouble).mean().item<double>();
    EXPECT_GT(zero, 0.0);
    EXPECT_LT(zero, 0.45);
  }
}

TEST(Augment, NoiseIsGaussianPerImageAndLeavesTheOtherDrawsAlone) {
  auto x = at::full({64, 1, 16, 16}, 0.5f);
  auto o = nothing(16);
  o.noise = 0.05;
  auto v = augment_view(x, o, 11, 2);
  auto d = (v - x).to(at::kDouble);
  EXPECT_NEAR(d.mean().item<double>(), 0.0, 0.002);  // 16,384 draws: standard error 0.0004
  EXPECT_NEAR(d.std().item<double>(), 0.05, 0.002);
  EXPECT_GE(v.min().item<double>(), 0.0);  // clipped to [0, 1]
  auto bright = augment_view(at::ones({4, 1, 16, 16}), o, 11, 2);
  EXPECT_LE(bright.max().item<double>(), 1.0);
  EXPECT_LT(bright.mean().item<double>(), 1.0);
  // Seeded per image: the same image index gets the same noise in a smaller batch; images differ.
  auto part = augment_view(x.narrow(0, 0, 3), o, 11, 2);
  EXPECT_TRUE(at::equal(part, v.narrow(0, 0, 3)));
  EXPECT_FALSE(at::equal(v[0], v[1]));
  // Adding noise does not move the crops, flips or jitter drawn before it.
  auto r = ramp(4, 1, 16, 16) * 0.5 + 0.25;
  ViewAugment a = nothing(12);
  a.scale_min = 0.3, a.flip = 0.5, a.jitter = 1;
  ViewAugment b = a;
  b.noise = 1e-4;
  EXPECT_LT((augment_view(r, a, 5, 1) - augment_view(r, b, 5, 1)).abs().max().item<double>(), 1e-3);
}

TEST(Augment, ViewsAreSeededAndMultiCropAddsSmallViews) {
  auto x = ramp(4, 1, 28, 28);
  AugmentConfig c;
  c.local_crops = 3;
  auto a = make_image_views(x, c, 9, 5), b = make_image_views(x, c, 9, 5), d = make_image_views(x, c, 9, 6);
  ASSERT_EQ(a.size(), 5u);
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(at::equal(a[k], b[k]));
  EXPECT_FALSE(at::equal(a[0], d[0]));
  EXPECT_FALSE(at::equal(a[0], a[1]));
  EXPECT_EQ(a[0].sizes(), (at::IntArrayRef{4, 1, 28, 28}));
  EXPECT_EQ(a[4].sizes(), (at::IntArrayRef{4, 1, 12, 12}));
  // A different batch composition does not change an image's views (draws are per image index).
  auto first = make_image_views(x.narrow(0, 0, 2), c, 9, 5);
  EXPECT_TRUE(at::equal(first[1], a[1].narrow(0, 0, 2)));
}

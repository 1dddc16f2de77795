// The vision package: IDX reading (Fashion-MNIST's format), against files written here and the real
// Debian dataset.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <numeric>

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

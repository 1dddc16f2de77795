#pragma once
// IDX files (LeCun's MNIST format, also Fashion-MNIST's): a 4-byte magic (0, 0, type, ndims), ndims
// big-endian int32 sizes, then the data big-endian in row-major order. Read plain or gzipped (zlib
// reads both). Torch-free header.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace jess::vision {

class IdxError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct IdxArray {
  uint8_t type = 0x08;         // 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;  // type 0x08 (images, labels): the data as stored
  std::vector<double> values;  // other types: every element converted to double (exact for all of them)
  int64_t count() const;
};

// Throws IdxError naming the file and what is wrong (missing, not IDX, unknown type, truncated,
// trailing bytes, absurd sizes).
IdxArray read_idx(const std::string& path);

// Writes an IDX file of unsigned bytes (tests, tools), plain or gzipped by the ".gz" suffix.
void write_idx_u8(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& data);

// An image classification split: images (n, height, width) as bytes, labels in [0, classes).
struct ImageSet {
  int64_t n = 0, height = 0, width = 0, channels = 1;
  std::vector<uint8_t> pixels;  // n * channels * height * width, row-major (n, c, h, w)
  std::vector<int64_t> labels;
  int64_t classes = 0;
  // Factor-set files (jess render factors): the object of each image and its set (0 canonical, then the
  // factors named in set_names). Empty for other sources.
  std::vector<int64_t> instance, set;
  std::vector<std::string> set_names;
};

// Fashion-MNIST (Debian's dataset-fashion-mnist: /usr/share/datasets/fashion-mnist) or MNIST-layout
// files in `dir`: split "train" (60,000) or "test" (10,000). Checks that images and labels agree.
ImageSet load_mnist_layout(const std::string& dir, const std::string& split);
const char* default_fashion_mnist_dir();

// An image set from either source jess trains on: an MNIST-layout directory (split train | test), or a
// rendered dataset (`jess render dataset`: dataset.h5 or the folder holding it), whose train split is
// every view of the training objects and whose test split every view of the val objects, RGB, labelled
// by the object's class. `max_images` > 0 keeps the first ones (rendered sets are large). A factor-set file
// of `jess render factors` is a third source: train = every image of every object (with `instance` and
// `set` filled, for training with variation), test = the canonical images.
ImageSet load_image_set(const std::string& data, const std::string& split, int64_t max_images = 0);
bool is_rendered_dataset(const std::string& data);
bool is_factor_set_file(const std::string& data);

}  // namespace jess::vision

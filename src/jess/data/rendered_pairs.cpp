// Reading view pairs from packed or 3DIEBench-layout rendered datasets, with a prefetch thread.
#include "jess/data/rendered_pairs.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/image_io.h"
#include "jess/core/npy.h"
#include "jess/core/rng.h"
#include "jess/render/geometry.h"

namespace fs = std::filesystem;

namespace jess::data {

struct RenderedPairLoader::Impl {
  RenderedPairOptions o;
  std::string kind;  // packed | folder
  std::string root;  // folder root (folder layout)
  std::unique_ptr<H5Reader> h5;
  mutable std::mutex io;  // HDF5 builds need not be thread safe: one reader at a time
  std::vector<int64_t> rows;    // packed: object rows of the split
  std::vector<std::string> dirs;  // folder: object folders of the split
  std::vector<int64_t> labels;
  int64_t views = 0, size = 0, n_classes = 0, n_factors = 0;
  std::string extension;  // folder: .jpg or .png

  // Prefetch state.
  std::thread worker;
  std::mutex m;
  std::condition_variable cv;
  std::deque<RenderedPairBatch> ready;
  int64_t epoch = -1, next_step = 0, produced = 0;
  bool stop = false;
  std::exception_ptr error;

  void read_view(int64_t object, int64_t view, uint8_t* chw, double* factors) const {
    const int64_t S = size;
    std::vector<uint8_t> hwc;
    std::vector<double> f;
    if (kind == "packed") {
      std::lock_guard<std::mutex> lock(io);
      const uint64_t row = uint64_t(rows[size_t(object)] * views + view);
      hwc = h5->read_rows_u8("images", row, 1);
      f = h5->read_rows("factors", row, 1);
    } else {
      const std::string base = root + "/" + dirs[size_t(object)] + "/";
      Image8 img = read_image(base + "image_" + std::to_string(view) + extension, 3);
      if (img.width != S || img.height != S)
        throw std::runtime_error("rendered pairs: " + base + "image_" + std::to_string(view) + extension + " is " +
                                 std::to_string(img.width) + "x" + std::to_string(img.height) + ", expected " +
                                 std::to_string(S) + "x" + std::to_string(S));
      hwc = std::move(img.pixels);
      const NpyArray lat = read_npy(base + "latent_" + std::to_string(view) + ".npy");
      if (lat.numel() < 3) throw std::runtime_error("rendered pairs: " + base + "latent_" + std::to_string(view) + ".npy has fewer than 3 values");
      f = lat.data;
      f.resize(size_t(n_factors), 0.0);
    }
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < S * S; ++p) chw[c * S * S + p] = hwc[size_t(p * 3 + c)];
    std::copy(f.begin(), f.begin() + n_factors, factors);
  }

  void run(int64_t for_epoch, int64_t from, int64_t steps, const RenderedPairLoader* self) {
    for (int64_t s = from; s < steps; ++s) {
      RenderedPairBatch b;
      try {
        b = self->batch(for_epoch, s);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        error = std::current_exception();
        cv.notify_all();
        return;
      }
      std::unique_lock<std::mutex> lock(m);
      cv.wait(lock, [&] { return stop || int64_t(ready.size()) < std::max<int64_t>(1, o.prefetch); });
      if (stop) return;
      ready.push_back(std::move(b));
      cv.notify_all();
    }
  }

  void halt() {
    {
      std::lock_guard<std::mutex> lock(m);
      stop = true;
      cv.notify_all();
    }
    if (worker.joinable()) worker.join();
    stop = false;
    ready.clear();
    error = nullptr;
  }
};

RenderedPairLoader::RenderedPairLoader(const RenderedPairOptions& o) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.o = o;
  if (o.split != "train" && o.split != "val") throw ConfigError("rendered pairs: split must be train or val, got '" + o.split + "'");
  if (o.batch < 1) throw ConfigError("rendered pairs: batch must be positive");
  if (o.prefetch < 0) throw ConfigError("rendered pairs: prefetch must be >= 0");
  std::string packed;
  if (fs::is_regular_file(o.path)) packed = o.path;
  else if (fs::is_directory(o.path)) {
    const bool has_h5 = fs::exists(o.path + "/dataset.h5"), has_folder = fs::exists(o.path + "/" + o.split + "_images.npy");
    if (has_h5 && !(o.prefer_folder && has_folder)) packed = o.path + "/dataset.h5";
    else if (!has_folder)
      throw ConfigError("rendered pairs: '" + o.path + "' holds neither dataset.h5 nor " + o.split + "_images.npy");
  } else {
    throw ConfigError("rendered pairs: '" + o.path + "' does not exist");
  }
  if (!packed.empty()) {
    m.kind = "packed";
    m.h5 = std::make_unique<H5Reader>(packed);
    const auto split = m.h5->read_i64("split");
    const auto labels = m.h5->read_i64("labels");
    m.views = m.h5->attr_int("/", "views");
    m.size = m.h5->attr_int("/", "image_size");
    m.n_classes = int64_t(m.h5->read_strings("classes").size());
    m.n_factors = int64_t(m.h5->shape("factors")[1]);
    for (size_t i = 0; i < split.size(); ++i)
      if (split[i] == (o.split == "train" ? 0 : 1)) m.rows.push_back(int64_t(i)), m.labels.push_back(labels[i]);
  } else {
    m.kind = "folder";
    m.root = o.path;
    const auto names = read_npy_strings(o.path + "/" + o.split + "_images.npy");
    const NpyArray labels = read_npy(o.path + "/" + o.split + "_labels.npy");
    if (int64_t(names.size()) != labels.numel())
      throw ConfigError("rendered pairs: " + o.split + "_images.npy and " + o.split + "_labels.npy differ in length");
    int64_t max_label = -1;
    for (size_t i = 0; i < names.size(); ++i) {
      std::string d = names[i];
      while (!d.empty() && d[0] == '/') d.erase(0, 1);  // 3DIEBench stores "/<synset>/<object>"
      m.dirs.push_back(d);
      m.labels.push_back(int64_t(labels.data[i]));
      max_label = std::max(max_label, m.labels.back());
    }
    m.n_classes = max_label + 1;
    if (m.dirs.empty()) throw ConfigError("rendered pairs: the " + o.split + " split is empty");
    const std::string first = o.path + "/" + m.dirs[0];
    for (const auto& e : fs::directory_iterator(first)) {
      const std::string f = e.path().filename().string();
      if (f.rfind("latent_", 0) == 0) ++m.views;
      if (f.rfind("image_", 0) == 0 && m.extension.empty()) m.extension = e.path().extension().string();
    }
    if (m.views < 2 || m.extension.empty())
      throw ConfigError("rendered pairs: '" + first + "' needs at least two image_<i> / latent_<i>.npy views");
    Image8 img = read_image(first + "/image_0" + m.extension, 3);
    if (img.width != img.height) throw ConfigError("rendered pairs: images must be square");
    m.size = img.width;
    m.n_factors = int64_t(read_npy(first + "/latent_0.npy").numel());
  }
  if (m.views < 2) throw ConfigError("rendered pairs: pairs need at least 2 views per object");
  if (m.n_factors < 3)
    throw ConfigError("rendered pairs: the views of '" + o.path + "' carry " + std::to_string(m.n_factors) +
                      " latent values; the relative rotation needs the first three (rot x, y, z as extrinsic xyz Euler angles)");
  if (int64_t(m.labels.size()) < o.batch && o.drop_last)
    throw ConfigError("rendered pairs: batch " + std::to_string(o.batch) + " exceeds the " + std::to_string(m.labels.size()) +
                      " objects of the " + o.split + " split");
}

RenderedPairLoader::~RenderedPairLoader() { impl_->halt(); }

int64_t RenderedPairLoader::objects() const { return int64_t(impl_->labels.size()); }
int64_t RenderedPairLoader::views() const { return impl_->views; }
int64_t RenderedPairLoader::image_size() const { return impl_->size; }
int64_t RenderedPairLoader::classes() const { return impl_->n_classes; }
const std::string& RenderedPairLoader::source() const { return impl_->kind; }
int64_t RenderedPairLoader::steps_per_epoch() const {
  const int64_t n = objects(), b = impl_->o.batch;
  return impl_->o.drop_last ? n / b : (n + b - 1) / b;
}

RenderedPairBatch RenderedPairLoader::batch(int64_t epoch, int64_t step) const {
  const Impl& m = *impl_;
  const int64_t n = objects(), S = m.size, F = m.n_factors;
  if (step < 0 || step >= steps_per_epoch()) throw std::out_of_range("rendered pairs: step out of range");
  // The epoch's object order: a Fisher–Yates shuffle drawn from (seed, epoch).
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[size_t(i)] = i;
  Rng shuffle(uint64_t(m.o.seed), 0xB47C, uint64_t(epoch));
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[size_t(i)], order[size_t(shuffle.integer(0, i))]);
  // A data-parallel rank reads its rows of the global batch; each row's views are drawn from its global
  // position, so the shards together are the one-process batch.
  const int64_t shard = m.o.shard_size > 0 ? m.o.shard_begin : 0;
  const int64_t first = step * m.o.batch + shard;
  const int64_t B = m.o.shard_size > 0 ? m.o.shard_size : std::min(m.o.batch, n - first);
  RenderedPairBatch b;
  b.view1 = at::empty({B, 3, S, S}, at::kByte);
  b.view2 = at::empty({B, 3, S, S}, at::kByte);
  b.factors1 = at::empty({B, F}, at::kDouble);
  b.factors2 = at::empty({B, F}, at::kDouble);
  b.relative_rotation = at::empty({B, 4}, at::kFloat);
  b.labels = at::empty({B}, at::kLong);
  b.objects = at::empty({B}, at::kLong);
  b.view_index1 = at::empty({B}, at::kLong);
  b.view_index2 = at::empty({B}, at::kLong);
  for (int64_t k = 0; k < B; ++k) {
    const int64_t object = order[size_t(first + k)];
    Rng pick(uint64_t(m.o.seed), 0x9A1 + uint64_t(epoch), uint64_t(step) * 1000003ull + uint64_t(shard + k));
    const int64_t v1 = pick.integer(0, m.views - 1);
    int64_t v2 = pick.integer(0, m.views - 2);
    if (v2 >= v1) ++v2;  // two distinct views
    double* f1 = b.factors1.data_ptr<double>() + k * F;
    double* f2 = b.factors2.data_ptr<double>() + k * F;
    m.read_view(object, v1, b.view1.data_ptr<uint8_t>() + k * 3 * S * S, f1);
    m.read_view(object, v2, b.view2.data_ptr<uint8_t>() + k * 3 * S * S, f2);
    const auto q = render::relative_rotation(render::euler_xyz_to_quat({f1[0], f1[1], f1[2]}),
                                             render::euler_xyz_to_quat({f2[0], f2[1], f2[2]}));
    float* r = b.relative_rotation.data_ptr<float>() + k * 4;
    r[0] = float(q.x), r[1] = float(q.y), r[2] = float(q.z), r[3] = float(q.w);
    b.labels.data_ptr<int64_t>()[k] = m.labels[size_t(object)];
    b.objects.data_ptr<int64_t>()[k] = object;
    b.view_index1.data_ptr<int64_t>()[k] = v1;
    b.view_index2.data_ptr<int64_t>()[k] = v2;
  }
  return b;
}

void RenderedPairLoader::start_epoch(int64_t epoch, int64_t first_step) {
  Impl& m = *impl_;
  m.halt();
  if (first_step < 0 || first_step > steps_per_epoch()) throw std::out_of_range("rendered pairs: first step out of range");
  m.epoch = epoch;
  m.next_step = first_step;
  if (m.o.prefetch > 0)
    m.worker = std::thread([this, epoch, first_step] { impl_->run(epoch, first_step, steps_per_epoch(), this); });
}

int64_t RenderedPairLoader::factor_count() const { return impl_->n_factors; }

RenderedPairLoader::ObjectViews RenderedPairLoader::object_views(int64_t first, int64_t count) const {
  const Impl& m = *impl_;
  if (first < 0 || count < 0 || first + count > objects()) throw std::out_of_range("rendered pairs: objects out of range");
  const int64_t V = m.views, S = m.size, F = m.n_factors;
  ObjectViews out;
  out.images = at::empty({count, V, 3, S, S}, at::kByte);
  out.factors = at::empty({count, V, F}, at::kDouble);
  out.labels = at::empty({count}, at::kLong);
  for (int64_t k = 0; k < count; ++k) {
    uint8_t* img = out.images.data_ptr<uint8_t>() + k * V * 3 * S * S;
    double* fac = out.factors.data_ptr<double>() + k * V * F;
    if (m.kind == "packed") {  // an object's views are consecutive rows: one read each
      std::vector<uint8_t> hwc;
      std::vector<double> f;
      {
        std::lock_guard<std::mutex> lock(m.io);
        const uint64_t row = uint64_t(m.rows[size_t(first + k)] * V);
        hwc = m.h5->read_rows_u8("images", row, uint64_t(V));
        f = m.h5->read_rows("factors", row, uint64_t(V));
      }
      for (int64_t v = 0; v < V; ++v)
        for (int64_t c = 0; c < 3; ++c)
          for (int64_t p = 0; p < S * S; ++p) img[(v * 3 + c) * S * S + p] = hwc[size_t((v * S * S + p) * 3 + c)];
      std::copy(f.begin(), f.begin() + V * F, fac);
    } else {
      for (int64_t v = 0; v < V; ++v) m.read_view(first + k, v, img + v * 3 * S * S, fac + v * F);
    }
    out.labels.data_ptr<int64_t>()[k] = m.labels[size_t(first + k)];
  }
  return out;
}

bool RenderedPairLoader::next(RenderedPairBatch& out) {
  Impl& m = *impl_;
  if (m.epoch < 0) throw std::logic_error("rendered pairs: next() before start_epoch()");
  if (m.next_step >= steps_per_epoch()) return false;
  if (m.o.prefetch == 0) {
    out = batch(m.epoch, m.next_step++);
    return true;
  }
  std::unique_lock<std::mutex> lock(m.m);
  m.cv.wait(lock, [&] { return !m.ready.empty() || m.error; });
  if (m.ready.empty() && m.error) std::rethrow_exception(m.error);
  out = std::move(m.ready.front());
  m.ready.pop_front();
  ++m.next_step;
  m.cv.notify_all();
  return true;
}

}  // namespace jess::data

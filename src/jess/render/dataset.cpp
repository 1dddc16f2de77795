// 3DIEBench-layout datasets and their packed HDF5 twin: sampling, rendering, streaming writes,
// shards and merge, reading back.
#include "jess/render/dataset.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/npy.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/render/catalogue.h"
#include "jess/render/mesh_io.h"

namespace fs = std::filesystem;

namespace jess::render {

namespace {

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      const auto a = cur.find_first_not_of(" \t"), b = cur.find_last_not_of(" \t");
      if (a != std::string::npos) out.push_back(cur.substr(a, b - a + 1));
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

uint64_t name_hash(const std::string& s) {  // FNV-1a: stable across platforms and runs
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

}  // namespace

// Every draw of a view depends only on (seed, class name, object index, view index).
ViewFactors sample_view(const RenderDatasetOptions& o, const std::string& cls, int64_t object, int64_t view,
                        size_t backgrounds) {
  Rng rng(uint64_t(o.seed), name_hash(cls) ^ (uint64_t(object) << 20), uint64_t(view));
  ViewFactors f;
  for (int k = 0; k < 3; ++k) {  // always three draws, so fixing an axis keeps every other draw
    const double a = rng.uniform(-o.rotation_range, o.rotation_range);
    f.euler[size_t(k)] = o.rotation_axes.find(char('x' + k)) != std::string::npos ? a : 0.0;
  }
  f.floor_hue = rng.uniform(o.floor_hue_min, o.floor_hue_max);
  f.spot_theta = rng.uniform(0, o.spot_theta_max);
  f.spot_phi = rng.uniform(0, 2 * kPi);
  f.spot_hue = rng.uniform(o.spot_hue_min, o.spot_hue_max);
  // The robustness factors draw after the 7 latents, so switching them on keeps 3DIEBench's draws.
  const double px = rng.uniform(-1, 1), py = rng.uniform(-1, 1);
  f.position_x = o.position_range * px, f.position_y = o.position_range * py;
  const double u = rng.uniform();
  f.scale = o.scale_min * std::pow(o.scale_max / o.scale_min, u);
  const double b = rng.uniform();
  f.background = backgrounds > 0 ? std::min<double>(std::floor(b * backgrounds), backgrounds - 1) : -1;
  f.light_hue = rng.uniform();
  f.light_saturation = rng.uniform(0, o.light_saturation_max);
  f.light_intensity = rng.uniform(o.light_intensity_min, o.light_intensity_max);
  return f;
}

namespace {

std::string tmp_name(const std::string& out) { return out + ".tmp." + std::to_string(::getpid()); }

// Removes the temporary folder unless the run committed it.
struct TempDir {
  std::string path;
  bool committed = false;
  ~TempDir() {
    if (!committed && !path.empty()) {
      std::error_code ec;
      fs::remove_all(path, ec);
    }
  }
};

void prepare_output(const std::string& out) {
  if (out.empty()) throw ConfigError("render: --out is required");
  if (fs::exists(out) && !(fs::is_directory(out) && fs::is_empty(out)))
    throw ConfigError("render: '" + out + "' exists and is not an empty folder (refusing to overwrite a dataset)");
  const fs::path parent = fs::absolute(out).parent_path();
  if (!fs::is_directory(parent)) throw ConfigError("render: the parent folder of '" + out + "' does not exist");
  if (::access(parent.c_str(), W_OK) != 0) throw ConfigError("render: cannot write to '" + parent.string() + "'");
}

void commit_dir(TempDir& tmp, const std::string& out) {
  std::error_code ec;
  if (fs::is_directory(out)) fs::remove(out, ec);  // an empty folder given as the target
  fs::rename(tmp.path, out, ec);
  if (ec) throw std::runtime_error("render: could not move " + tmp.path + " to " + out + ": " + ec.message());
  tmp.committed = true;
}

void write_plain(const std::string& path, const std::vector<uint8_t>& bytes) {
  // Files inside the temporary folder need no per-file atomicity: the folder is renamed at the end.
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) {
    if (f) std::fclose(f);
    throw std::runtime_error("render: cannot write " + path);
  }
  if (std::fclose(f) != 0) throw std::runtime_error("render: cannot write " + path);
}

// NumPy .npy v1.0 bytes of a float64 vector (what np.save writes for a 1-D float64 array).
std::vector<uint8_t> npy_f64_bytes(const double* data, size_t n) {
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(header.size() & 0xFF), uint8_t(header.size() >> 8)};
  out.insert(out.end(), header.begin(), header.end());
  const auto* bytes = reinterpret_cast<const uint8_t*>(data);
  out.insert(out.end(), bytes, bytes + n * sizeof(double));
  return out;
}

void write_split_files(const std::string& dir, const std::vector<std::string>& objects, const std::vector<int64_t>& labels,
                       const std::vector<int64_t>& split) {
  for (int s = 0; s < 2; ++s) {
    std::vector<std::string> names;
    std::vector<int64_t> labs;
    for (size_t i = 0; i < objects.size(); ++i)
      if (split[i] == s) names.push_back("/" + objects[i]), labs.push_back(labels[i]);
    const std::string tag = s == 0 ? "train" : "val";
    write_npy_strings(dir + "/" + tag + "_images.npy", names);
    write_npy_i64(dir + "/" + tag + "_labels.npy", labs.data(), {int64_t(labs.size())});
  }
}

}  // namespace

int64_t default_render_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? int64_t(n) : 1;
}

void RenderDatasetOptions::describe(ConfigSchema& s) {
  s.add("objects", objects, "'procedural' (the built-in catalogue) or a folder of meshes: <folder>/<class>/*.obj|ply|glb|off|stl");
  s.add("classes", classes, "comma-separated classes to render ('' = all)");
  s.add("objects_per_class", objects_per_class, "objects (instances) per class", check::positive_int());
  s.add("views_per_object", views_per_object, "views per object (3DIEBench: 50)", check::positive_int());
  s.add("image_size", image_size, "image side in pixels (3DIEBench: 256)", check::int_in(8, 4096));
  s.add("samples", samples,
        "multisample anti-aliasing samples per pixel (1 = off: 534 images/s at 128^2 on 2 cores; 4: 279 images/s, smoother edges)",
        check::int_in(1, 16));
  s.add("val_fraction", val_fraction, "fraction of each class's objects in the val split", check::in_range(0, 1));
  s.add("format", format, "folder images: jpg (3DIEBench's) or png (lossless, equal to the packed pixels)", check::one_of({"jpg", "png"}));
  s.add("jpeg_quality", jpeg_quality, "JPEG quality", check::int_in(1, 100));
  s.add("layout", layout, "both, folder (3DIEBench's layout) or packed (dataset.h5 only)", check::one_of({"both", "folder", "packed"}));
  s.add("seed", seed, "seed of every random draw (objects and views; also --seed)", check::int_at_least(0));
  s.add("threads", threads, "render threads, one OpenGL context each (0 = one per core)", check::int_at_least(0));
  s.add("shard_index", shard_index, "this shard (objects g with g % shard_count == shard_index)", check::int_at_least(0));
  s.add("shard_count", shard_count, "number of shards (merge them with `jess render merge`)", check::positive_int());
  s.add("factors.rotation_range", rotation_range, "Euler angles ~ U[-r, r] (3DIEBench: pi/2)", check::in_range(0, kPi));
  s.add("factors.rotation_axes", rotation_axes,
        "which Euler angles vary: any of x, y, z (3DIEBench: xyz; z alone turns the object on a turntable)");
  s.add("factors.spot_theta_max", spot_theta_max, "spot light theta ~ U[0, max] (3DIEBench: pi/4)", check::in_range(0, kPi / 2));
  s.add("factors.floor_hue_min", floor_hue_min, "floor hue range", check::in_range(0, 1));
  s.add("factors.floor_hue_max", floor_hue_max, "floor hue range", check::in_range(0, 1));
  s.add("factors.spot_hue_min", spot_hue_min, "spot hue range", check::in_range(0, 1));
  s.add("factors.spot_hue_max", spot_hue_max, "spot hue range", check::in_range(0, 1));
  s.add("factors.position_range", position_range, "position x, y ~ U[-r, r] in image widths (0 = centred)", check::in_range(0, 0.5));
  s.add("factors.scale_min", scale_min, "object scale, log-uniform in [min, max]", check::positive());
  s.add("factors.scale_max", scale_max, "object scale, log-uniform in [min, max]", check::positive());
  s.add("factors.backgrounds", backgrounds,
        "'' = 3DIEBench's floor; else a list drawn uniformly: plain, plain:H, checker, stripes, noise, gradient, folder:PATH");
  s.add("factors.light_saturation_max", light_saturation_max, "key-light colour HSV(U[0,1), U[0, s], 1) (0 = white)", check::in_range(0, 1));
  s.add("factors.light_intensity_min", light_intensity_min, "key-light intensity range", check::positive());
  s.add("factors.light_intensity_max", light_intensity_max, "key-light intensity range", check::positive());
}

void RenderDatasetOptions::validate() const {
  if (shard_index >= shard_count) throw ConfigError("shard_index must be < shard_count");
  {
    bool seen[3] = {false, false, false};
    for (char c : rotation_axes) {
      if (c < 'x' || c > 'z' || seen[c - 'x'])
        throw ConfigError("config key 'factors.rotation_axes': '" + rotation_axes + "' must list distinct axes among x, y, z");
      seen[c - 'x'] = true;
    }
    if (rotation_axes.empty()) throw ConfigError("config key 'factors.rotation_axes' is empty (use factors.rotation_range=0 for no rotation)");
  }
  if (floor_hue_min > floor_hue_max) throw ConfigError("factors.floor_hue_min > factors.floor_hue_max");
  if (spot_hue_min > spot_hue_max) throw ConfigError("factors.spot_hue_min > factors.spot_hue_max");
  if (scale_min > scale_max) throw ConfigError("factors.scale_min > factors.scale_max");
  if (light_intensity_min > light_intensity_max) throw ConfigError("factors.light_intensity_min > factors.light_intensity_max");
}

ObjectSource list_objects(const std::string& objects, const std::string& classes) {
  ObjectSource src;
  const auto wanted = split_list(classes);
  if (objects == "procedural") {
    src.procedural = true;
    if (wanted.empty()) {
      src.classes = procedural_classes();
    } else {
      for (const auto& c : wanted) {
        if (!is_procedural_class(c)) {
          std::string known;
          for (const auto& k : procedural_classes()) known += (known.empty() ? "" : ", ") + k;
          throw ConfigError("render: unknown class '" + c + "' (procedural classes: " + known + ")");
        }
        src.classes.push_back(c);
      }
    }
    return src;
  }
  src.procedural = false;
  if (!fs::is_directory(objects)) throw ConfigError("render: objects folder '" + objects + "' does not exist");
  std::vector<std::string> found;
  for (const auto& e : fs::directory_iterator(objects))
    if (e.is_directory()) found.push_back(e.path().filename().string());
  std::sort(found.begin(), found.end());
  for (const auto& c : wanted.empty() ? found : wanted) {
    if (std::find(found.begin(), found.end(), c) == found.end())
      throw ConfigError("render: class folder '" + objects + "/" + c + "' does not exist");
    auto files = list_mesh_files(objects + "/" + c);
    if (files.empty()) throw ConfigError("render: class folder '" + objects + "/" + c + "' holds no mesh files");
    src.classes.push_back(c);
    src.meshes.push_back(std::move(files));
  }
  if (src.classes.empty()) throw ConfigError("render: objects folder '" + objects + "' has no class sub-folders");
  return src;
}

Mesh load_object(const ObjectSource& src, int64_t c, int64_t i, uint64_t seed) {
  if (src.procedural) return make_procedural(src.classes[size_t(c)], uint64_t(i), seed);
  const auto& files = src.meshes[size_t(c)];
  if (i >= int64_t(files.size()))
    throw ConfigError("render: class '" + src.classes[size_t(c)] + "' has " + std::to_string(files.size()) +
                      " meshes, fewer than objects_per_class");
  Mesh m = load_mesh(files[size_t(i)], Material{});
  m.normalize(1.0);
  return m;
}

std::string object_name(const ObjectSource& src, int64_t c, int64_t i) {
  if (src.procedural) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%06lld", (long long)i);
    return src.classes[size_t(c)] + "/" + src.classes[size_t(c)] + "_" + buf;
  }
  if (i >= int64_t(src.meshes[size_t(c)].size()))
    throw ConfigError("render: class '" + src.classes[size_t(c)] + "' has " + std::to_string(src.meshes[size_t(c)].size()) +
                      " meshes, fewer than objects_per_class");
  return src.classes[size_t(c)] + "/" + fs::path(src.meshes[size_t(c)][size_t(i)]).stem().string();
}

RenderSummary render_dataset(const RenderDatasetOptions& o, const std::string& out) {
  o.validate();
  prepare_output(out);
  const auto start = std::chrono::steady_clock::now();
  const ObjectSource src = list_objects(o.objects, o.classes);
  const auto backgrounds = parse_backgrounds(o.backgrounds, int(o.image_size), uint64_t(o.seed));
  const int64_t C = int64_t(src.classes.size()), N = o.objects_per_class, V = o.views_per_object, S = o.image_size;
  const int64_t n_val = std::llround(double(N) * o.val_fraction);
  for (size_t c = 0; c < src.meshes.size(); ++c)
    if (int64_t(src.meshes[c].size()) < N)
      throw ConfigError("render: class folder '" + src.classes[c] + "' has " + std::to_string(src.meshes[c].size()) +
                        " meshes, fewer than objects_per_class = " + std::to_string(N));
  // This shard's objects, by global index g = c * N + i.
  std::vector<int64_t> mine;
  for (int64_t g = 0; g < C * N; ++g)
    if (g % o.shard_count == o.shard_index) mine.push_back(g);

  TempDir tmp{tmp_name(out)};
  fs::create_directories(tmp.path);
  const bool folder = o.layout != "packed", packed = o.layout != "folder";
  std::unique_ptr<H5Writer> h5;
  if (packed) {
    h5 = std::make_unique<H5Writer>(tmp.path + "/dataset.h5");
    const uint64_t M = mine.size();
    // One row per image (row = object * views + view), so a view reads without its neighbours.
    h5->create_u8("images", {M * V, uint64_t(S), uint64_t(S), 3});
    h5->create_f64("factors", {M * V, uint64_t(kFactorCount)});
    h5->create_f64("quaternions", {M * V, 4});
  }
  RenderSummary sum;
  std::vector<std::string> names;
  std::vector<int64_t> labels, split, global;
  for (const int64_t g : mine) {
    const int64_t c = g / N, i = g % N;
    names.push_back(object_name(src, c, i)), labels.push_back(c), split.push_back(i >= N - n_val ? 1 : 0), global.push_back(g);
  }
  // Render threads (one OpenGL context each) take objects in order; this thread encodes and writes
  // them in order, holding at most `window` rendered objects, so memory stays flat and the output
  // does not depend on the thread count.
  struct Rendered {
    std::vector<uint8_t> images;
    std::vector<double> factors, quats;
  };
  const int64_t threads = std::max<int64_t>(1, std::min<int64_t>(o.threads > 0 ? o.threads : default_render_threads(),
                                                                 int64_t(mine.size())));
  const size_t window = size_t(2 * threads);
  std::mutex mutex;
  std::condition_variable cv;
  std::map<size_t, Rendered> ready;
  size_t next_object = 0, written = 0;
  std::exception_ptr error;
  std::string gl;
  double render_seconds = 0;
  auto worker = [&](int64_t w) {
    try {
      Renderer renderer(RenderOptions{int(S), int(o.samples)});
      if (w == 0) {
        std::lock_guard<std::mutex> lock(mutex);
        gl = renderer.gl_description();
      }
      double seconds = 0;
      for (;;) {
        size_t k;
        {
          std::unique_lock<std::mutex> lock(mutex);
          cv.wait(lock, [&] { return error || next_object >= mine.size() || next_object < written + window; });
          if (error || next_object >= mine.size()) break;
          k = next_object++;
        }
        const int64_t c = mine[k] / N, i = mine[k] % N;
        Rendered r;
        r.images.resize(size_t(V) * S * S * 3);
        r.factors.resize(size_t(V) * kFactorCount);
        r.quats.resize(size_t(V) * 4);
        renderer.set_object(load_object(src, c, i, uint64_t(o.seed)));
        int64_t current_background = -2;
        for (int64_t v = 0; v < V; ++v) {
          const ViewFactors f = sample_view(o, src.classes[size_t(c)], i, v, backgrounds.size());
          if (f.background >= 0 && int64_t(f.background) != current_background) {
            const auto& b = backgrounds[size_t(f.background)];
            if (b.has_image) renderer.set_background_image(b.image);
            current_background = int64_t(f.background);
          }
          const auto t0 = std::chrono::steady_clock::now();
          renderer.render_into(scene_for(f, backgrounds), r.images.data() + size_t(v) * S * S * 3);
          seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          const auto fa = f.as_array();
          std::copy(fa.begin(), fa.end(), r.factors.begin() + v * kFactorCount);
          const auto q = euler_xyz_to_quat(f.euler).as_array();
          std::copy(q.begin(), q.end(), r.quats.begin() + v * 4);
        }
        std::lock_guard<std::mutex> lock(mutex);
        ready.emplace(k, std::move(r));
        cv.notify_all();
      }
      std::lock_guard<std::mutex> lock(mutex);
      render_seconds = std::max(render_seconds, seconds);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!error) error = std::current_exception();
      cv.notify_all();
    }
  };
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < threads; ++w) pool.emplace_back(worker, w);
  // On any exit (a failed write included) the workers are told to stop, then joined.
  struct StopAndJoin {
    std::mutex& mutex;
    std::condition_variable& cv;
    std::exception_ptr& error;
    std::vector<std::thread>& pool;
    ~StopAndJoin() {
      {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) error = std::make_exception_ptr(std::runtime_error("render: stopped"));
        cv.notify_all();
      }
      for (auto& t : pool)
        if (t.joinable()) t.join();
    }
  } stop_and_join{mutex, cv, error, pool};
  Progress bar("render", int64_t(mine.size()) * V, "img");
  for (size_t k = 0; k < mine.size(); ++k) {
    Rendered r;
    {
      std::unique_lock<std::mutex> lock(mutex);
      cv.wait(lock, [&] { return error || ready.count(k); });
      if (error) break;
      r = std::move(ready[k]);
      ready.erase(k);
    }
    if (folder) {
      const std::string base = tmp.path + "/" + names[k] + "/";
      fs::create_directories(base);
      Image8 img(int(S), int(S), 3);
      for (int64_t v = 0; v < V; ++v) {
        std::copy_n(r.images.data() + size_t(v) * S * S * 3, size_t(S) * S * 3, img.pixels.data());
        write_plain(base + "image_" + std::to_string(v) + "." + o.format,
                    o.format == "jpg" ? encode_jpeg(img, int(o.jpeg_quality)) : encode_png(img, 1));
        write_plain(base + "latent_" + std::to_string(v) + ".npy", npy_f64_bytes(r.factors.data() + v * kFactorCount, 7));
      }
    }
    if (packed) {
      h5->write_rows("images", k * V, V, r.images.data());
      h5->write_rows("factors", k * V, V, r.factors.data());
      h5->write_rows("quaternions", k * V, V, r.quats.data());
    }
    bar.advance(V);
    std::lock_guard<std::mutex> lock(mutex);
    written = k + 1;
    cv.notify_all();
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!error && written < mine.size()) error = std::make_exception_ptr(std::runtime_error("render: stopped early"));
    cv.notify_all();
  }
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  sum.gl = gl;
  bar.finish();
  ConfigSchema schema;
  RenderDatasetOptions copy = o;
  copy.threads = 0;  // not recorded: the data does not depend on it (same bytes for any thread count)
  copy.describe(schema);
  if (packed) {
    h5->write_i64("labels", {names.size()}, labels.data());
    h5->write_i64("split", {names.size()}, split.data());
    h5->write_i64("object_index", {names.size()}, global.data());
    h5->write_strings("objects", names);
    h5->write_strings("classes", src.classes);
    std::vector<std::string> fnames = factor_names();
    h5->write_strings("factor_names", fnames);
    h5->attr("/", "format", std::string("jess render dataset 1"));
    h5->attr("/", "config", schema.to_yaml());
    h5->attr("/", "seed", int64_t(o.seed));
    h5->attr("/", "views", V);
    h5->attr("/", "image_size", S);
    h5->attr("/", "shard_index", o.shard_index);
    h5->attr("/", "shard_count", o.shard_count);
    h5->commit();
  }
  if (folder) {
    write_split_files(tmp.path, names, labels, split);
    std::string cls;
    for (const auto& c : src.classes) cls += c + "\n";
    write_text_atomic(tmp.path + "/classes.txt", cls);
  }
  write_text_atomic(tmp.path + "/config.yaml", schema.to_yaml());
  commit_dir(tmp, out);
  sum.out = out;
  sum.objects = int64_t(mine.size());
  sum.images = int64_t(mine.size()) * V;
  sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  sum.render_seconds = render_seconds;
  return sum;
}

PackedDataset read_packed_index(const std::string& path) {
  H5Reader r(path);
  PackedDataset d;
  for (const char* key : {"images", "labels", "split", "objects", "classes"})
    if (!r.exists(key)) throw H5Error(path + ": not a jess rendered dataset (no '" + std::string(key) + "')");
  d.classes = r.read_strings("classes");
  d.objects = r.read_strings("objects");
  d.labels = r.read_i64("labels");
  d.split = r.read_i64("split");
  const auto shape = r.shape("images");
  d.views = r.attr_int("/", "views");
  if (shape.size() != 4 || d.views <= 0 || shape[0] != d.objects.size() * uint64_t(d.views) || shape[1] != shape[2] ||
      shape[3] != 3)
    throw H5Error(path + ": images must be [objects * views, S, S, 3]");
  d.size = int64_t(shape[1]);
  return d;
}

std::vector<uint8_t> read_packed_images(const std::string& path, int64_t object) {
  H5Reader r(path);
  const uint64_t V = uint64_t(r.attr_int("/", "views"));
  return r.read_rows_u8("images", uint64_t(object) * V, V);
}

std::vector<double> read_packed_factors(const std::string& path, int64_t object) {
  H5Reader r(path);
  const uint64_t V = uint64_t(r.attr_int("/", "views"));
  return r.read_rows("factors", uint64_t(object) * V, V);
}

void merge_render_shards(const std::vector<std::string>& shards, const std::string& out) {
  if (shards.empty()) throw ConfigError("render merge: no shards given");
  prepare_output(out);
  struct Shard {
    std::string dir;
    std::vector<int64_t> global;
    int64_t count = 0, index = 0;
  };
  std::vector<Shard> parts;
  std::string config0;
  std::set<int64_t> seen;
  int64_t views = 0, size = 0, count = 0;
  for (const auto& dir : shards) {
    const std::string p = dir + "/dataset.h5";
    if (!fs::exists(p)) throw ConfigError("render merge: '" + p + "' is missing (shards need the packed layout)");
    H5Reader r(p);
    Shard s{dir, r.read_i64("object_index"), r.attr_int("/", "shard_count"), r.attr_int("/", "shard_index")};
    std::string cfg = r.attr_string("/", "config");
    // The configurations must agree except for the shard index.
    const auto strip = [](std::string c) {
      const auto a = c.find("shard_index:");
      if (a != std::string::npos) c.erase(a, c.find('\n', a) - a);
      return c;
    };
    if (config0.empty()) config0 = strip(cfg), views = r.attr_int("/", "views"), size = r.attr_int("/", "image_size"), count = s.count;
    else if (strip(cfg) != config0) throw ConfigError("render merge: '" + dir + "' was rendered with another configuration");
    if (!seen.insert(s.index).second) throw ConfigError("render merge: shard " + std::to_string(s.index) + " given twice");
    parts.push_back(std::move(s));
  }
  if (int64_t(parts.size()) != count)
    throw ConfigError("render merge: " + std::to_string(parts.size()) + " shards given, the run had " + std::to_string(count));
  // Global order: object g lives in shard g % count at row g / count.
  int64_t total = 0;
  for (const auto& s : parts) total += int64_t(s.global.size());
  TempDir tmp{tmp_name(out)};
  fs::create_directories(tmp.path);
  H5Writer w(tmp.path + "/dataset.h5");
  const uint64_t V = uint64_t(views);
  w.create_u8("images", {uint64_t(total) * V, uint64_t(size), uint64_t(size), 3});
  w.create_f64("factors", {uint64_t(total) * V, uint64_t(kFactorCount)});
  w.create_f64("quaternions", {uint64_t(total) * V, 4});
  std::vector<std::string> names, classes;
  std::vector<int64_t> labels, split, global;
  std::vector<std::unique_ptr<H5Reader>> readers;
  std::vector<std::vector<std::string>> shard_names;
  std::vector<std::vector<int64_t>> shard_labels, shard_split;
  std::sort(parts.begin(), parts.end(), [](const Shard& a, const Shard& b) { return a.index < b.index; });
  for (const auto& s : parts) {
    readers.push_back(std::make_unique<H5Reader>(s.dir + "/dataset.h5"));
    shard_names.push_back(readers.back()->read_strings("objects"));
    shard_labels.push_back(readers.back()->read_i64("labels"));
    shard_split.push_back(readers.back()->read_i64("split"));
    if (classes.empty()) classes = readers.back()->read_strings("classes");
  }
  for (int64_t g = 0, row = 0; row < total; ++g) {
    const size_t s = size_t(g % count), r = size_t(g / count);
    if (r >= parts[s].global.size() || parts[s].global[r] != g) continue;
    auto img = readers[s]->read_rows_u8("images", r * V, V);
    auto fac = readers[s]->read_rows("factors", r * V, V);
    auto qua = readers[s]->read_rows("quaternions", r * V, V);
    w.write_rows("images", uint64_t(row) * V, V, img.data());
    w.write_rows("factors", uint64_t(row) * V, V, fac.data());
    w.write_rows("quaternions", uint64_t(row) * V, V, qua.data());
    names.push_back(shard_names[s][r]), labels.push_back(shard_labels[s][r]), split.push_back(shard_split[s][r]);
    global.push_back(g);
    const fs::path from = fs::path(parts[s].dir) / shard_names[s][r];
    if (fs::is_directory(from)) {
      fs::create_directories((fs::path(tmp.path) / shard_names[s][r]).parent_path());
      fs::copy(from, fs::path(tmp.path) / shard_names[s][r], fs::copy_options::recursive);
    }
    ++row;
  }
  w.write_i64("labels", {names.size()}, labels.data());
  w.write_i64("split", {names.size()}, split.data());
  w.write_i64("object_index", {names.size()}, global.data());
  w.write_strings("objects", names);
  w.write_strings("classes", classes);
  std::vector<std::string> fnames = factor_names();
  w.write_strings("factor_names", fnames);
  H5Reader first(parts[0].dir + "/dataset.h5");
  w.attr("/", "format", std::string("jess render dataset 1"));
  // The merged file carries the unsharded configuration, as a single run would.
  std::string cfg = first.attr_string("/", "config");
  auto fix = [&](const std::string& key, const std::string& value) {
    const auto a = cfg.find(key + ":");
    if (a != std::string::npos) cfg.replace(a, cfg.find('\n', a) - a, key + ": " + value);
  };
  fix("shard_index", "0");
  fix("shard_count", "1");
  w.attr("/", "config", cfg);
  w.attr("/", "seed", first.attr_int("/", "seed"));
  w.attr("/", "views", views);
  w.attr("/", "image_size", size);
  w.attr("/", "shard_index", int64_t(0));
  w.attr("/", "shard_count", int64_t(1));
  w.commit();
  if (fs::exists(parts[0].dir + "/train_images.npy")) {
    write_split_files(tmp.path, names, labels, split);
    std::string cls;
    for (const auto& c : classes) cls += c + "\n";
    write_text_atomic(tmp.path + "/classes.txt", cls);
  }
  std::string yaml;
  {
    std::ifstream in(parts[0].dir + "/config.yaml");
    yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  const auto fixy = [&](const std::string& key, const std::string& value) {
    const auto a = yaml.find(key + ":");
    if (a != std::string::npos) yaml.replace(a, yaml.find('\n', a) - a, key + ": " + value);
  };
  fixy("shard_index", "0");
  fixy("shard_count", "1");
  write_text_atomic(tmp.path + "/config.yaml", yaml);
  commit_dir(tmp, out);
}

}  // namespace jess::render

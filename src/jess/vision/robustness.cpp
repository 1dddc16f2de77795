#include "jess/vision/robustness.h"

#include <ATen/ATen.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <map>
#include <sstream>

#include "jess/core/config.h"
#include "jess/core/files.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/plot.h"
#include "jess/eval/probes.h"
#include "jess/vision/idx.h"

namespace jess::vision {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

std::string format_level(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

RobustnessSet fmnist_set(const RobustnessSetOptions& o) {
  const std::string dir = o.fmnist_dir.empty() ? default_fashion_mnist_dir() : o.fmnist_dir;
  ImageSet train = load_mnist_layout(dir, "train"), test = load_mnist_layout(dir, "test");
  if (o.n_test < 1 || o.n_probe < 2) throw ConfigError("robustness: n_test must be positive and n_probe at least 2");
  const int64_t nt = std::min(o.n_test, test.n), np = std::min(o.n_probe, train.n);
  auto te = at::from_blob(test.pixels.data(), {test.n, 1, test.height, test.width}, at::kByte).narrow(0, 0, nt);
  auto tr = at::from_blob(train.pixels.data(), {train.n, 1, train.height, train.width}, at::kByte).narrow(0, 0, np);
  const int64_t S = o.levels.canvas;
  auto canonical = canonical_canvas(te, S);
  std::vector<std::string> factors = o.factors.empty() ? factor2d_names() : split_list(o.factors);
  RobustnessSet set;
  set.source = "Fashion-MNIST (" + dir + "), " + std::to_string(nt) + " test images per level on a " + std::to_string(S) +
               "x" + std::to_string(S) + " canvas";
  set.groups.push_back({"canonical", "", 0});
  std::vector<at::Tensor> images{canonical}, groups{at::zeros({nt}, at::kLong)};
  for (const auto& f : factors) {
    for (double level : o.levels.levels(f)) {  // ConfigError for an unknown factor or level
      // Background levels are texture indices: plotted at index + 1 (canonical, black, at 0).
      set.groups.push_back({f, format_level(level), f == "background" ? level + 1 : level});
      images.push_back(apply_factor2d(canonical, f, level, o.seed, 0));
      groups.push_back(at::full({nt}, int64_t(set.groups.size() - 1), at::kLong));
    }
  }
  set.images = at::cat(images);
  set.group = at::cat(groups);
  set.labels = at::tensor(std::vector<int64_t>(test.labels.begin(), test.labels.begin() + nt), at::kLong).repeat({int64_t(images.size())});
  set.probe_images = canonical_canvas(tr, S);
  set.probe_labels = at::tensor(std::vector<int64_t>(train.labels.begin(), train.labels.begin() + np), at::kLong);
  set.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return set;
}

// A `jess render factors` file: images (N, S, S, 3) uint8, labels, set, level, factors (N, 14).
struct FactorFile {
  at::Tensor images, labels, set, level, factors;
  std::vector<std::string> set_names, classes, background_names;
};
FactorFile read_factor_file(const std::string& path) {
  H5Reader r(path);
  if (!r.has_attr("/", "format") || r.attr_string("/", "format").rfind("jess render factors", 0) != 0)
    throw ConfigError("robustness: '" + path + "' is not a file of jess render factors");
  FactorFile f;
  const auto shape = r.shape("images");
  const int64_t n = int64_t(shape[0]), S = int64_t(shape[1]);
  auto px = r.read_u8("images");
  f.images = at::from_blob(px.data(), {n, S, S, 3}, at::kByte).permute({0, 3, 1, 2}).to(at::kFloat).div(255.0).contiguous();
  auto as_tensor = [&](const std::string& name) {
    auto v = r.read_i64(name);
    return at::tensor(v, at::kLong);
  };
  f.labels = as_tensor("labels");
  f.set = as_tensor("set");
  f.level = as_tensor("level");
  auto fa = r.read_f64("factors");
  f.factors = at::tensor(fa, at::kDouble).view({n, -1});
  f.set_names = r.read_strings("set_names");
  f.classes = r.read_strings("classes");
  f.background_names = r.read_strings("background_names");
  return f;
}

RobustnessSet rendered_set(const RobustnessSetOptions& o) {
  if (o.probe.empty())
    throw ConfigError("robustness: a rendered set needs --probe, a factor-set file of training objects (jess render factors "
                      "first_object=0 ...) whose canonical images fit the probe");
  FactorFile test = read_factor_file(o.data), probe = read_factor_file(o.probe);
  if (test.classes != probe.classes) throw ConfigError("robustness: the probe file's classes differ from the test file's");
  if (test.images.size(2) != probe.images.size(2)) throw ConfigError("robustness: the probe and test images differ in size");
  const std::vector<std::string> wanted = split_list(o.factors);
  RobustnessSet set;
  set.source = o.data;
  set.class_names = test.classes;
  set.groups.push_back({"canonical", "", 0});
  std::map<std::pair<int64_t, int64_t>, int64_t> index;  // (set, level) -> group
  std::vector<int64_t> keep, group;
  const auto st = test.set.accessor<int64_t, 1>(), lv = test.level.accessor<int64_t, 1>();
  const auto fa = test.factors.accessor<double, 2>();
  for (int64_t i = 0; i < test.set.size(0); ++i) {
    const int64_t s = st[i];
    if (s == 0) {
      keep.push_back(i), group.push_back(0);
      continue;
    }
    const std::string name = s < int64_t(test.set_names.size()) ? test.set_names[size_t(s)] : "set" + std::to_string(s);
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
    auto key = std::make_pair(s, lv[i]);
    auto it = index.find(key);
    if (it == index.end()) {
      // The level's value from the view's recorded factors.
      double value = double(lv[i]);
      std::string label;
      if (name.rfind("pose_", 0) == 0) {
        value = fa[i][name[5] - 'x'] * 180 / M_PI, label = format_level(std::round(value * 100) / 100) + " deg";
      } else if (name == "position") {
        value = fa[i][7], label = format_level(value);
      } else if (name == "size") {
        value = fa[i][9], label = format_level(value);
      } else if (name == "background") {
        const int64_t b = int64_t(fa[i][10]);
        label = b < int64_t(test.background_names.size()) ? test.background_names[size_t(b)] : format_level(double(b));
      } else if (name == "light") {
        value = fa[i][11], label = "hue " + format_level(value);
      } else if (name == "intensity") {
        value = fa[i][13], label = format_level(value);
      } else {
        label = format_level(value);
      }
      set.groups.push_back({name, label, value});
      it = index.emplace(key, int64_t(set.groups.size() - 1)).first;
    }
    keep.push_back(i), group.push_back(it->second);
  }
  if (!wanted.empty())
    for (const auto& w : wanted) {
      bool found = false;
      for (const auto& g : set.groups) found = found || g.factor == w;
      if (!found) throw ConfigError("robustness: factor '" + w + "' is not in " + o.data);
    }
  auto k = at::tensor(keep, at::kLong);
  set.images = test.images.index_select(0, k);
  set.labels = test.labels.index_select(0, k);
  set.group = at::tensor(group, at::kLong);
  auto pc = probe.set.eq(0).nonzero().view({-1});
  set.probe_images = probe.images.index_select(0, pc);
  set.probe_labels = probe.labels.index_select(0, pc);
  return set;
}

}  // namespace

RobustnessSet make_robustness_set(const RobustnessSetOptions& o) {
  if (o.data == "fmnist") return fmnist_set(o);
  if (!file_exists(o.data)) throw ConfigError("robustness: data '" + o.data + "' is neither fmnist nor an existing factor-set file");
  return rendered_set(o);
}

RobustnessReport robustness_report(const at::Tensor& predictions, const at::Tensor& labels, const at::Tensor& group,
                                   const std::vector<RobustnessGroup>& groups, int64_t classes) {
  if (predictions.dim() != 1 || predictions.sizes() != labels.sizes() || labels.sizes() != group.sizes())
    throw std::invalid_argument("robustness: predictions, labels and groups must be (N,) tensors of one length");
  if (groups.empty() || groups[0].factor != "canonical") throw std::invalid_argument("robustness: group 0 must be canonical");
  auto p = predictions.to(at::kLong), y = labels.to(at::kLong), g = group.to(at::kLong);
  if (g.numel() && (g.min().item<int64_t>() < 0 || g.max().item<int64_t>() >= int64_t(groups.size())))
    throw std::invalid_argument("robustness: a group index is out of range");
  RobustnessReport r;
  r.classes = classes;
  for (size_t k = 0; k < groups.size(); ++k) {
    auto m = g.eq(int64_t(k));
    RobustnessLevel row;
    row.factor = groups[k].factor, row.level = groups[k].level, row.value = groups[k].value;
    row.n = m.sum().item<int64_t>();
    if (row.n == 0) throw std::invalid_argument("robustness: group " + groups[k].factor + " " + groups[k].level + " is empty");
    auto correct = p.masked_select(m).eq(y.masked_select(m)).to(at::kDouble);
    row.top1 = correct.mean().item<double>();
    auto yc = y.masked_select(m);
    for (int64_t c = 0; c < classes; ++c) {
      auto mc = yc.eq(c);
      const int64_t nc = mc.sum().item<int64_t>();
      row.class_top1.push_back(nc ? correct.masked_select(mc).mean().item<double>() : std::numeric_limits<double>::quiet_NaN());
    }
    r.rows.push_back(row);
  }
  const double c0 = r.rows[0].top1;
  for (auto& row : r.rows) {
    row.drop = c0 - row.top1;
    row.relative_drop = c0 > 0 ? row.drop / c0 : 0;
  }
  return r;
}

at::Tensor probe_predictions_from_features(const at::Tensor& probe_x, const at::Tensor& probe_y, const at::Tensor& test_x,
                                           uint64_t seed) {
  eval::ClassifierOptions co;
  co.seed = seed;
  // The labels of the test points are not used for fitting: pass zeros (the accuracy it reports is ignored).
  auto r = eval::classification_probe(probe_x, probe_y, test_x, at::zeros({test_x.size(0)}, at::kLong), co);
  return r.test_scores.argmax(1);
}

at::Tensor probe_predictions(const std::function<at::Tensor(const at::Tensor&)>& features, const RobustnessSet& set,
                             uint64_t seed) {
  auto px = features(set.probe_images), tx = features(set.images);
  return probe_predictions_from_features(px, set.probe_labels, tx, seed);
}

std::string RobustnessReport::table(bool per_class) const {
  std::ostringstream s;
  s << model << ": top-1 % (canonical " << std::fixed << std::setprecision(2) << 100 * canonical_top1() << ")\n";
  s << "  " << std::left << std::setw(12) << "factor" << std::setw(14) << "level" << std::right << std::setw(7) << "n"
    << std::setw(9) << "top-1" << std::setw(9) << "drop" << std::setw(10) << "rel. drop";
  if (per_class)
    for (int64_t c = 0; c < classes; ++c)
      s << std::setw(8) << (c < int64_t(class_names.size()) ? class_names[size_t(c)].substr(0, 7) : std::to_string(c));
  s << "\n";
  for (const auto& r : rows) {
    s << "  " << std::left << std::setw(12) << r.factor << std::setw(14) << r.level << std::right << std::setw(7) << r.n
      << std::setw(9) << 100 * r.top1 << std::setw(9) << 100 * r.drop << std::setw(9) << 100 * r.relative_drop << "%";
    if (per_class)
      for (double v : r.class_top1) s << std::setw(8) << (std::isnan(v) ? std::string("-") : format_level(std::round(1000 * v) / 10));
    s << "\n";
  }
  return s.str();
}

std::string RobustnessReport::json() const {
  std::ostringstream s;
  s << std::setprecision(10) << "{\"model\": \"" << model << "\", \"classes\": " << classes << ", \"rows\": [";
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    s << (i ? ", " : "") << "{\"factor\": \"" << r.factor << "\", \"level\": \"" << r.level << "\", \"value\": " << r.value
      << ", \"n\": " << r.n << ", \"top1\": " << r.top1 << ", \"drop\": " << r.drop << ", \"relative_drop\": " << r.relative_drop
      << ", \"class_top1\": [";
    for (size_t c = 0; c < r.class_top1.size(); ++c)
      s << (c ? ", " : "") << (std::isnan(r.class_top1[c]) ? std::string("null") : format_level(r.class_top1[c]));
    s << "]}";
  }
  s << "]}\n";
  return s.str();
}

std::vector<std::string> plot_robustness(const std::vector<RobustnessReport>& reports, const std::string& dir) {
  std::vector<std::string> paths;
  if (reports.empty()) return paths;
  make_directories(dir);
  std::vector<std::string> factors;
  for (const auto& r : reports[0].rows)
    if (r.factor != "canonical" && std::find(factors.begin(), factors.end(), r.factor) == factors.end()) factors.push_back(r.factor);
  for (const auto& f : factors) {
    // The factor's identity level (where the canonical accuracy is drawn).
    double identity = 0;
    if (f == "scale" || f == "size" || f == "contrast" || f == "gamma" || f == "intensity") identity = 1;
    std::vector<plot::Series> series;
    std::string levels;
    for (const auto& rep : reports) {
      plot::Series s;
      s.label = rep.model;
      s.markers = true;
      std::vector<std::pair<double, double>> pts{{identity, 100 * rep.canonical_top1()}};
      for (const auto& r : rep.rows)
        if (r.factor == f) pts.emplace_back(r.value, 100 * r.top1);
      std::sort(pts.begin(), pts.end());
      for (auto& p : pts) s.x.push_back(p.first), s.y.push_back(p.second);
      series.push_back(s);
    }
    for (const auto& r : reports[0].rows)
      if (r.factor == f) levels += (levels.empty() ? "" : ", ") + r.level;
    plot::LineOptions lo;
    lo.title = "top-1 under " + f + " (canonical at " + format_level(identity) + ")";
    lo.x_label = f + " level (" + levels + ")";
    lo.y_label = "top-1 accuracy (%)";
    const std::string path = dir + "/robustness_" + f + ".png";
    plot::lines(series, lo, path);
    paths.push_back(path);
  }
  return paths;
}

}  // namespace jess::vision

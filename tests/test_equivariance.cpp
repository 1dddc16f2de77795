// Equivariant SSL (SIE and baselines): the hypernetwork's algebra, the SIE loss against hand values
// and a loop implementation, finite-difference gradients of every method, the 3DIEBench metrics on
// hand-made embeddings, relative quaternions against scipy, and training on a tiny rendered set.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "jess/core/config.h"
#include "jess/equivariance/evaluate.h"
#include "jess/equivariance/hypernetwork.h"
#include "jess/equivariance/method.h"
#include "jess/equivariance/metrics.h"
#include "jess/equivariance/train.h"
#include "jess/nn/encoders.h"
#include "jess/render/dataset.h"
#include "jess/ssl/vicreg.h"

namespace eq = jess::equivariance;
namespace fs = std::filesystem;

namespace {

std::string temp_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("jess_eq_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d.string();
}

// ---- plain loop implementations (doubles) of the VICReg terms, for the SIE loss check
using Rows = std::vector<std::vector<double>>;
Rows rows_of(const at::Tensor& t) {
  auto d = t.to(at::kDouble).contiguous();
  Rows r(size_t(d.size(0)), std::vector<double>(size_t(d.size(1))));
  for (int64_t i = 0; i < d.size(0); ++i)
    for (int64_t j = 0; j < d.size(1); ++j) r[size_t(i)][size_t(j)] = d[i][j].item<double>();
  return r;
}
double loop_mse(const Rows& a, const Rows& b) {
  double s = 0;
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t j = 0; j < a[i].size(); ++j) s += (a[i][j] - b[i][j]) * (a[i][j] - b[i][j]), ++n;
  return s / double(n);
}
std::vector<double> column_means(const Rows& z) {
  std::vector<double> m(z[0].size(), 0.0);
  for (const auto& r : z)
    for (size_t j = 0; j < r.size(); ++j) m[j] += r[j] / double(z.size());
  return m;
}
double loop_variance(const Rows& z, double eps = 1e-4) {
  auto m = column_means(z);
  double s = 0;
  for (size_t j = 0; j < m.size(); ++j) {
    double v = 0;
    for (const auto& r : z) v += (r[j] - m[j]) * (r[j] - m[j]);
    v /= double(z.size() - 1);
    s += std::max(0.0, 1 - std::sqrt(v + eps));
  }
  return s / double(m.size());
}
double loop_covariance(const Rows& z) {
  auto m = column_means(z);
  const size_t d = m.size();
  double s = 0;
  for (size_t j = 0; j < d; ++j)
    for (size_t k = 0; k < d; ++k) {
      if (j == k) continue;
      double c = 0;
      for (const auto& r : z) c += (r[j] - m[j]) * (r[k] - m[k]);
      c /= double(z.size() - 1);
      s += c * c;
    }
  return s / double(d);
}
Rows concat_columns(const Rows& a, const Rows& b) {
  Rows r = a;
  for (size_t i = 0; i < r.size(); ++i) r[i].insert(r[i].end(), b[i].begin(), b[i].end());
  return r;
}

std::shared_ptr<jess::nn::ProjectorImpl> child_projector(torch::nn::Module& m, const std::string& name) {
  auto children = m.named_children();
  auto p = std::dynamic_pointer_cast<jess::nn::ProjectorImpl>(children[name]);
  if (!p) throw std::runtime_error("no projector " + name);
  return p;
}

eq::MethodOptions small_options(int64_t rep = 8) {
  eq::MethodOptions o;
  o.representation_dim = rep;
  o.mlp = "12-6";
  return o;
}

}  // namespace

// ------------------------------------------------------------------ hypernetwork

TEST(Hypernetwork, WeightsAreTheLinearCombinationOfTheHypernetColumns) {
  torch::manual_seed(1);
  eq::HypernetworkPredictor h(5, 4, "linear");
  auto g = torch::randn({3, 4}, torch::kDouble);
  h->to(torch::kDouble);
  auto W = h->weights(g);  // (3, 5, 5)
  auto H = h->named_parameters()["hypernet.0.weight"];  // (25, 4)
  ASSERT_EQ(H.sizes(), at::IntArrayRef({25, 4}));
  for (int64_t b = 0; b < 3; ++b) {
    auto expected = torch::zeros({5, 5}, torch::kDouble);
    for (int64_t k = 0; k < 4; ++k) expected += g[b][k] * H.select(1, k).view({5, 5});  // A_k row-major (out, in)
    EXPECT_TRUE(torch::allclose(W[b], expected, 1e-12, 1e-12));
  }
  // W(-q) = -W(q) exactly, and the prediction is W(g) z row by row.
  EXPECT_TRUE(torch::equal(h->weights(-g), -W));
  auto z = torch::randn({3, 5}, torch::kDouble);
  auto p = h->forward(z, g);
  for (int64_t b = 0; b < 3; ++b) EXPECT_TRUE(torch::allclose(p[b], torch::mv(W[b], z[b]), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(h->forward(z, -g), -p, 0, 0));
}

TEST(Hypernetwork, DeepVariantAndBadKind) {
  torch::manual_seed(2);
  eq::HypernetworkPredictor deep(3, 4, "deep");
  deep->to(torch::kDouble);
  auto z = torch::randn({2, 3}, torch::kDouble), g = torch::randn({2, 4}, torch::kDouble);
  auto p = deep->forward(z, g);
  ASSERT_EQ(p.sizes(), at::IntArrayRef({2, 3}));
  // forward never forms W(g); it must equal W(g_b) z_b with W from the full hypernetwork.
  auto W = deep->weights(g);
  for (int64_t b = 0; b < 2; ++b) EXPECT_TRUE(torch::allclose(p[b], torch::mv(W[b], z[b]), 1e-12, 1e-12));
  EXPECT_THROW(eq::HypernetworkPredictor(3, 4, "wide"), std::invalid_argument);
}

// ------------------------------------------------------------------ SIE loss

TEST(SieLoss, VicregTermsOnAHandComputedCase) {
  // Z = [[0, 0], [0.2, 0.1], [0.4, 0.2]]: variances 0.04 and 0.01, covariance 0.02.
  auto z = torch::tensor({0.0, 0.0, 0.2, 0.1, 0.4, 0.2}, torch::kDouble).view({3, 2});
  const double v = ((1 - std::sqrt(0.04 + 1e-4)) + (1 - std::sqrt(0.01 + 1e-4))) / 2;
  EXPECT_NEAR(jess::ssl::vicreg_variance(z, 1e-4).item<double>(), v, 1e-12);
  EXPECT_NEAR(jess::ssl::vicreg_covariance(z).item<double>(), 2 * 0.02 * 0.02 / 2, 1e-12);
}

TEST(SieLoss, EqualsALoopImplementationTermByTerm) {
  for (const std::string variant : {"sie", "sie_no_var", "sie_only_equi"}) {
    torch::manual_seed(3);
    auto o = small_options();
    o.equi = 3;  // an uneven split: invariant part 5, equivariant part 3
    auto m = eq::make_method(variant, o);
    m->to(torch::kDouble);
    auto y1 = torch::randn({6, 8}, torch::kDouble), y2 = torch::randn({6, 8}, torch::kDouble);
    auto g = torch::randn({6, 4}, torch::kDouble);
    auto out = m->forward(y1, y2, g);
    // The same quantities from the module's parts, then the loss by loops.
    const int64_t inv = variant == "sie_only_equi" ? 0 : 5;
    EXPECT_EQ(m->invariant_dims(), inv);
    auto ze1 = m->equivariant_embedding(y1), ze2 = m->equivariant_embedding(y2);
    EXPECT_EQ(ze1.size(1), variant == "sie_only_equi" ? 6 : 2);  // mlp 12-6 scaled by 3/8: 5-2 (rounded)
    auto pred = m->predict(ze1, g);
    Rows e1 = rows_of(ze1), e2 = rows_of(ze2), p = rows_of(pred), z1 = e1, z2 = e2;
    double l_inv = 0;
    if (inv > 0) {
      auto pi = child_projector(*m, "projector_inv");
      Rows i1 = rows_of(pi->forward(y1.narrow(1, 0, inv))), i2 = rows_of(pi->forward(y2.narrow(1, 0, inv)));
      EXPECT_EQ(i1[0].size(), 4u);  // 12-6 scaled by 5/8: 8-4
      l_inv = loop_mse(i1, i2);
      z1 = concat_columns(i1, e1);
      z2 = concat_columns(i2, e2);
    }
    const double l_equi = loop_mse(p, e2);
    const double var = loop_variance(z1) / 2 + loop_variance(z2) / 2;
    const double pvar = variant == "sie_no_var" ? 0 : loop_variance(p) / 2;
    const double cov = loop_covariance(z1) + loop_covariance(z2);
    const double total = (inv > 0 ? 10 * l_inv + 10 * 0.45 * l_equi : 10 * l_equi) + 10 * (var + pvar) + cov;
    EXPECT_NEAR(out.loss.item<double>(), total, 1e-10) << variant;
    std::map<std::string, double> parts(out.parts.begin(), out.parts.end());
    EXPECT_NEAR(parts["equivariance"], l_equi, 1e-12);
    EXPECT_NEAR(parts["variance"], var, 1e-12);
    EXPECT_NEAR(parts["prediction_variance"], pvar, 1e-12);
    EXPECT_NEAR(parts["covariance"], cov, 1e-12);
    if (inv > 0) EXPECT_NEAR(parts["invariance"], l_inv, 1e-12);
  }
}

TEST(SieLoss, RotColorTakesSixTransformValues) {
  auto m = eq::make_method("sie_rot_color", small_options());
  auto y = torch::randn({4, 8});
  EXPECT_NO_THROW(m->forward(y, y + 0.1, torch::randn({4, 6})));
  EXPECT_THROW(m->forward(y, y, torch::randn({4, 4})), c10::Error);
  EXPECT_EQ(eq::transform_dim_of("sie_rot_color"), 6);
}

TEST(EquivariantMethods, GradientsMatchFiniteDifferences) {
  for (const auto& name : eq::method_names()) {
    torch::manual_seed(5);
    auto m = eq::make_method(name, small_options());
    m->to(torch::kDouble);
    const int64_t k = eq::transform_dim_of(name);
    auto y1 = torch::randn({5, 8}, torch::kDouble).requires_grad_(true);
    auto y2 = torch::randn({5, 8}, torch::kDouble);
    auto g = torch::randn({5, k}, torch::kDouble);
    auto loss = m->forward(y1, y2, g).loss;
    loss.backward();
    auto grad = y1.grad().clone();
    torch::NoGradGuard ng;
    const double h = 1e-6;
    for (int64_t i : {0, 2, 4})
      for (int64_t j : {1, 3, 7}) {
        auto yp = y1.detach().clone(), ym = y1.detach().clone();
        yp[i][j] += h;
        ym[i][j] -= h;
        const double fd = (m->forward(yp, y2, g).loss.item<double>() - m->forward(ym, y2, g).loss.item<double>()) / (2 * h);
        EXPECT_NEAR(grad[i][j].item<double>(), fd, 1e-5 * std::max(1.0, std::abs(fd))) << name << " (" << i << ", " << j << ")";
      }
  }
}

TEST(EquivariantMethods, PredictorAvailabilityAndErrors) {
  auto o = small_options();
  for (const auto& n : {"sie", "equimod", "sie_only_equi"}) EXPECT_TRUE(eq::make_method(n, o)->has_predictor()) << n;
  auto v = eq::make_method("vicreg", o);
  EXPECT_FALSE(v->has_predictor());
  EXPECT_THROW(v->equivariant_embedding(torch::randn({2, 8})), std::invalid_argument);
  EXPECT_THROW(eq::make_method("sie2", o), jess::ConfigError);
  o.equi = 8;  // no invariant part left
  EXPECT_THROW(eq::make_method("sie", o), jess::ConfigError);
}

TEST(EquivariantMethods, RotationRegressionIsTheRegressorsMseAlone) {
  torch::manual_seed(6);
  auto m = eq::make_method("rotation_regression", small_options());
  m->to(torch::kDouble);
  auto params = m->named_parameters();
  for (const auto& p : params) EXPECT_EQ(p.key().rfind("regressor.", 0), 0u) << p.key();  // no projector
  auto y1 = torch::randn({6, 8}, torch::kDouble), y2 = torch::randn({6, 8}, torch::kDouble);
  auto g = torch::randn({6, 4}, torch::kDouble);
  // The regressor by hand: Linear-ReLU-Linear-ReLU-Linear on concat(y1, y2), then the mean squared error.
  auto h = torch::cat({y1, y2}, 1);
  for (int l : {0, 2, 4}) {
    h = torch::addmm(params["regressor." + std::to_string(l) + ".bias"], h, params["regressor." + std::to_string(l) + ".weight"].t());
    if (l < 4) h = h.relu();
  }
  const double expected = (h - g).pow(2).mean().item<double>();
  EXPECT_NEAR(m->forward(y1, y2, g).loss.item<double>(), expected, 1e-12);
}

// ------------------------------------------------------------------ metrics

TEST(Metrics, RSquaredBothDefinitionsOnHandValues) {
  auto y = torch::tensor({1.0, 0.0, 3.0, 2.0}, torch::kDouble).view({2, 2});
  auto p = torch::tensor({1.0, 1.0, 2.0, 2.0}, torch::kDouble).view({2, 2});
  // scalar mean 1.5: SS_tot = 0.25 + 2.25 + 2.25 + 0.25 = 5, SS_res = 2 -> 0.6
  EXPECT_NEAR(eq::r2_scalar_mean(p, y), 0.6, 1e-12);
  // per dimension: (1 - 1/2) and (1 - 1/2) -> 0.5
  EXPECT_NEAR(eq::r2_per_dimension(p, y), 0.5, 1e-12);
  EXPECT_THROW(eq::r2_scalar_mean(p, torch::ones({2, 2})), std::invalid_argument);
  EXPECT_THROW(eq::r2_per_dimension(p, torch::ones({2, 2})), std::invalid_argument);
  // A constant target dimension (rotations about one axis) is left out of the average: only column 0.
  auto y1 = torch::tensor({1.0, 5.0, 3.0, 5.0}, torch::kDouble).view({2, 2});
  EXPECT_NEAR(eq::r2_per_dimension(p, y1), 0.5, 1e-12);
}

TEST(Metrics, MrrAndHitsOnKnownRanks) {
  // One object, 3 views: e0 = (1, 0), e1 = (0, 1), e2 = (-1, 0).
  auto e = torch::tensor({1.0, 0.0, 0.0, 1.0, -1.0, 0.0}).view({1, 3, 2});
  // p0 ranks view 0 first; p1 = (1, 0.5): cos 0.894 (view 0) > 0.447 (view 1) -> rank 2;
  // p2 = (0.2, 1): view 1 and view 0 above view 2 -> rank 3.
  auto p = torch::tensor({1.0, 0.1, 1.0, 0.5, 0.2, 1.0}).view({1, 3, 2});
  auto m = eq::retrieval_metrics(p, e);
  EXPECT_EQ(m.queries, 3);
  EXPECT_NEAR(m.mrr, (1.0 + 0.5 + 1.0 / 3) / 3, 1e-6);
  EXPECT_NEAR(m.h1, 1.0 / 3, 1e-12);
  EXPECT_NEAR(m.h2, 2.0 / 3, 1e-12);
  EXPECT_NEAR(m.h5, 1.0, 1e-12);
  // Scaling a prediction does not change its ranks (cosine).
  EXPECT_NEAR(eq::retrieval_metrics(p * 7, e).mrr, m.mrr, 1e-12);
}

TEST(Metrics, PredictionErrorOfKnownNearestNeighbours) {
  // Candidates along 3 directions with rotations about z by 0, 60 and 180 degrees.
  auto c = torch::tensor({1.0, 0.0, 0.0, 1.0, -1.0, 0.0}).view({3, 2});
  auto rz = [](double a) { return std::vector<double>{0, 0, std::sin(a / 2), std::cos(a / 2)}; };
  std::vector<double> cr;
  for (double a : {0.0, M_PI / 3, M_PI}) for (double v : rz(a)) cr.push_back(v);
  auto crot = torch::tensor(cr, torch::kDouble).view({3, 4});
  // Query 0 lands on candidate 0 with the truth at 0 degrees: error 0. Query 1 lands on candidate 1
  // (60 degrees) with the truth at 0: 1 - cos^2(30 deg) = 1/4. Query 2 lands on candidate 2 with the
  // truth -q of 180 degrees (the same rotation): 0.
  auto q = torch::tensor({0.9, 0.1, 0.1, 0.9, -2.0, 0.1}).view({3, 2});
  auto r180 = rz(M_PI);
  auto truth = torch::tensor({0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, -r180[0], -r180[1], -r180[2], -r180[3]}, torch::kDouble).view({3, 4});
  EXPECT_NEAR(eq::prediction_error(q, truth, c, crot, 2), 0.25 / 3, 1e-9);
}

TEST(Metrics, RelativeQuaternionsMatchScipy) {
  // Random Euler angles -> scipy's from_euler("xyz").as_quat() and (r1.inv() * r2).as_quat() in python3.
  const std::string dir = temp_dir("scipy");
  std::ofstream py(dir + "/rel.py");
  py << "import numpy as np\nfrom scipy.spatial.transform import Rotation as R\n"
        "rng = np.random.default_rng(4)\na = rng.uniform(-np.pi / 2, np.pi / 2, (12, 2, 3))\n"
        "for p in a:\n  q1 = R.from_euler('xyz', p[0]).as_quat(); q2 = R.from_euler('xyz', p[1]).as_quat()\n"
        "  r = (R.from_euler('xyz', p[0]).inv() * R.from_euler('xyz', p[1])).as_quat()\n"
        "  print(' '.join(repr(float(v)) for v in list(q1) + list(q2) + list(r)))\n";
  py.close();
  std::FILE* p = ::popen(("/usr/bin/python3 " + dir + "/rel.py").c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::vector<double> v;
  double x;
  while (std::fscanf(p, "%lf", &x) == 1) v.push_back(x);
  ::pclose(p);
  ASSERT_EQ(v.size(), 12u * 12) << "python3-scipy must be installed";
  auto t = torch::tensor(v, torch::kDouble).view({12, 3, 4});
  auto r = eq::relative_quaternion(t.select(1, 0), t.select(1, 1));
  EXPECT_TRUE(torch::allclose(r, t.select(1, 2), 1e-12, 1e-12)) << "sign or order differs from scipy's";
  auto c = eq::relative_quaternion(t.select(1, 0), t.select(1, 1), true);
  EXPECT_TRUE(c.select(1, 3).ge(0).all().item<bool>());
  EXPECT_TRUE(torch::allclose(c.abs(), r.abs(), 0, 0));
  fs::remove_all(dir);
}

// ------------------------------------------------------------------ training and evaluation end to end

class TinyRendered : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = temp_dir("tiny");
    jess::render::RenderDatasetOptions o;
    o.classes = "chair,mug,lamp";
    o.objects_per_class = 6;
    o.views_per_object = 6;
    o.image_size = 32;
    o.val_fraction = 0.34;
    o.layout = "packed";
    jess::render::render_dataset(o, dir_ + "/ie");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }
  static eq::EquivariantTrainOptions options(const std::string& method) {
    eq::EquivariantTrainOptions o;
    o.data = dir_ + "/ie";
    o.method = method;
    o.width = 4;
    o.batch = 6;
    o.method_options.mlp = "32-32";
    o.n_monitor = 6;
    o.train.epochs = 2;
    o.train.plots = false;
    o.device = "cpu";
    return o;
  }
  static std::string dir_;
};
std::string TinyRendered::dir_;

TEST_F(TinyRendered, EveryMethodTrainsAndSieResumesExactly) {
  for (const auto& m : eq::method_names()) {
    auto s = eq::train_equivariant(options(m), dir_ + "/run_" + m, true);
    EXPECT_TRUE(s.train.completed) << m;
    EXPECT_TRUE(std::isfinite(s.train.last_loss)) << m;
    std::map<std::string, double> last(s.last_epoch.begin(), s.last_epoch.end());
    EXPECT_TRUE(last.count("val_rotation_r2")) << m;
    EXPECT_EQ(last.count("val_top1_inv"), m.rfind("sie", 0) == 0 && m != "sie_only_equi" ? 1u : 0u) << m;
  }
  // Killed after 3 steps, resumed: the same weights as the uninterrupted run.
  auto o = options("sie");
  o.train.stop_after_steps = 3;
  eq::train_equivariant(o, dir_ + "/resumed", true);
  o.train.stop_after_steps = 0;
  auto r = eq::train_equivariant(o, dir_ + "/resumed", false);
  EXPECT_TRUE(r.train.resumed);
  auto a = jess::train::load_checkpoint(dir_ + "/run_sie/checkpoint.pt"), b = jess::train::load_checkpoint(dir_ + "/resumed/checkpoint.pt");
  for (const auto& kv : a.model) EXPECT_TRUE(torch::equal(kv.second, b.model.at(kv.first))) << kv.first;
}

TEST_F(TinyRendered, EvaluationReportsEveryMetricAndRefusesOtherCheckpoints) {
  eq::train_equivariant(options("sie"), dir_ + "/eval_sie", true);
  eq::EquivariantEvalOptions eo;
  eo.epochs = 3;
  eo.pairs_per_object = 2;
  eo.device = "cpu";
  eo.plots = dir_ + "/plots";
  eo.layers = true;
  auto rep = eq::evaluate_equivariant(dir_ + "/eval_sie", eo);
  ASSERT_EQ(rep.layers.size(), 5u);  // stem, layer1..4
  EXPECT_EQ(rep.layers.back().part, "layer4");
  EXPECT_EQ(rep.layers.back().dim, rep.representation_dim);
  // The last stage is the representation: its linear head is the full-representation row's.
  EXPECT_EQ(rep.layers.back().top1, rep.classification[0].top1);
  EXPECT_EQ(rep.views, 6);
  EXPECT_EQ(rep.classification.size(), 6u);  // full / inv / equi x linear / mlp
  EXPECT_EQ(rep.regression.size(), 6u);      // rotation and colour x 3 parts
  ASSERT_TRUE(rep.retrieval);
  EXPECT_GT(rep.mrr, 0);
  EXPECT_LE(rep.mrr, 1);
  EXPECT_LE(rep.h1, rep.h2);
  EXPECT_LE(rep.h2, rep.h5);
  EXPECT_NEAR(rep.h10, 1.0, 1e-12);  // 6 views: the true view is always within 10
  EXPECT_GE(rep.pre, 0);
  EXPECT_LE(rep.pre, 1);
  EXPECT_TRUE(fs::exists(eo.plots + "/retrieval.png"));
  EXPECT_TRUE(fs::exists(eo.plots + "/rotation_prediction.png"));
  EXPECT_NE(rep.json().find("\"mrr\""), std::string::npos);
  // Deterministic: the same report twice.
  eo.plots.clear();
  auto again = eq::evaluate_equivariant(dir_ + "/eval_sie", eo);
  EXPECT_EQ(again.mrr, rep.mrr);
  EXPECT_EQ(again.classification[0].top1, rep.classification[0].top1);
  // A baseline has no predictor: retrieval is n/a, the rest is reported.
  eq::train_equivariant(options("vicreg"), dir_ + "/eval_vicreg", true);
  auto v = eq::evaluate_equivariant(dir_ + "/eval_vicreg", eo);
  EXPECT_FALSE(v.retrieval);
  EXPECT_EQ(v.classification.size(), 2u);
  EXPECT_NE(v.table().find("n/a"), std::string::npos);
  // Not a checkpoint of jess equivariance train.
  std::ofstream(dir_ + "/junk.pt") << "not a checkpoint";
  EXPECT_ANY_THROW(eq::evaluate_equivariant(dir_ + "/junk.pt", eo));
}

TEST_F(TinyRendered, ConfigurationErrorsAreClear) {
  auto o = options("sie");
  o.method_options.equi = 32;  // width 4: representation 32, no invariant part left
  try {
    eq::train_equivariant(o, dir_ + "/bad", true);
    FAIL() << "equi = representation size accepted";
  } catch (const jess::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("equi"), std::string::npos) << e.what();
  }
  o = options("sie");
  o.data = dir_ + "/missing";
  EXPECT_THROW(eq::train_equivariant(o, dir_ + "/bad", true), jess::ConfigError);
}

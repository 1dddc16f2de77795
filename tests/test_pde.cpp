// Correctness of the PDE data engine: solvers against analytic solutions, conservation laws,
// convergence order, agreement between independent methods, and clear errors for bad input.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "jess/core/hdf5_file.h"
#include "jess/core/runtime.h"
#include "jess/pde/dataset.h"
#include "jess/pde/solvers.h"
#include "jess/pde/ssl.h"
#include "jess/pde/ssl_model.h"

using namespace jess::pde;
using at::indexing::Slice;
using at::indexing::None;

namespace {
const bool kRuntime = (jess::init_runtime(2, false), true);

at::Tensor grid(double L, int64_t nx) { return at::arange(nx, at::kDouble) * (L / double(nx)); }

double rel_l2(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

// Sum of sines with fixed, modest parameters, (B, nx).
at::Tensor sines(int64_t B, int64_t nx, double L, double amp, int64_t seed) {
  auto g = at::detail::getDefaultCPUGenerator();
  at::manual_seed(uint64_t(seed));
  auto x = grid(L, nx);
  auto u = at::zeros({B, nx}, at::kDouble);
  for (int k = 0; k < 4; ++k) {
    auto A = (at::rand({B, 1}, at::kDouble) - 0.5) * 2 * amp;
    auto phi = at::rand({B, 1}, at::kDouble) * 2 * M_PI;
    u += A * at::sin(2 * M_PI * (k + 1) * x.unsqueeze(0) / L + phi);
  }
  (void)g;
  return u;
}

SolveSpec spec_for(Equation eq, const at::Tensor& u0, double L, double T, int64_t nt, double nu = 0.01) {
  SolveSpec s;
  s.equation = eq;
  s.u0 = u0;
  const int64_t B = u0.size(0);
  s.L = at::full({B}, L, at::kDouble);
  s.T = at::full({B}, T, at::kDouble);
  s.nu = at::full({B}, nu, at::kDouble);
  s.nt_total = nt;
  s.nt_keep = nt;
  return s;
}

at::Tensor soliton(const at::Tensor& x, double c, double x0, double t, double L) {
  // 3c sech^2(sqrt(c)/2 (x - c t - x0)), wrapped periodically (the tails are ~e^-40 at L/2).
  auto xi = at::remainder(x - c * t - x0 + L / 2, L) - L / 2;
  return 3 * c / at::cosh(std::sqrt(c) / 2 * xi).square();
}
}  // namespace

TEST(KdV, SolitonTravelsAtSpeedC) {
  const double L = 80, c = 1.0, x0 = 20, T = 12;
  const int64_t nx = 512, nt = 13;
  auto x = grid(L, nx);
  auto s = spec_for(Equation::kdv, soliton(x, c, x0, 0, L).unsqueeze(0), L, T, nt);
  s.substeps = 40;  // h = 0.025: 480 internal steps
  auto u = solve(s);
  double worst = 0;
  for (int64_t j = 0; j < nt; ++j) worst = std::max(worst, rel_l2(u[0][j], soliton(x, c, x0, double(j), L)));
  EXPECT_LT(worst, 1e-6);
  // The check can fail: a soliton moving at a different speed is far off.
  EXPECT_GT(rel_l2(u[0][nt - 1], soliton(x, 1.05 * c, x0, T, L)), 1e-2);
}

TEST(Conservation, MassIsConservedToRoundOff) {
  for (Equation eq : {Equation::kdv, Equation::ks, Equation::burgers}) {
    const double L = eq == Equation::kdv ? 64 : eq == Equation::ks ? 32 : 2 * M_PI;
    auto u0 = sines(3, 128, L, 0.5, 1) + 0.3;  // non-zero mean on purpose
    auto s = spec_for(eq, u0, L, 5, 11, 0.05);
    s.substeps = 20;
    auto u = solve(s);
    auto m = mass(u, s.L);  // (B, nt)
    auto drift = (m - m.select(1, 0).unsqueeze(1)).abs().max().item<double>();
    EXPECT_LT(drift, 1e-11 * L) << equation_name(eq);
  }
}

TEST(Conservation, KdvEnergyIsConservedToSolverTolerance) {
  auto u0 = sines(2, 256, 100, 0.5, 2);
  auto s = spec_for(Equation::kdv, u0, 100, 20, 21);
  s.substeps = 20;
  auto u = solve(s);
  auto e = energy(u, s.L);
  auto rel = ((e - e.select(1, 0).unsqueeze(1)).abs() / e.select(1, 0).unsqueeze(1)).max().item<double>();
  EXPECT_LT(rel, 1e-6);
  // KS is dissipative/forced: its energy does change, so the measure is meaningful.
  auto sk = spec_for(Equation::ks, u0, 100, 20, 21);
  sk.substeps = 20;
  auto ek = energy(solve(sk), sk.L);
  EXPECT_GT(((ek.select(1, 20) - ek.select(1, 0)).abs() / ek.select(1, 0)).min().item<double>(), 1e-2);
}

TEST(Burgers, ColeHopfMatchesDirectEtdrk4) {
  for (double nu : {0.05, 0.1}) {
    auto u0 = sines(3, 256, 2 * M_PI, 0.5, 3);
    auto s = spec_for(Equation::burgers, u0, 2 * M_PI, 2.0, 21, nu);
    s.method = "cole_hopf";
    auto ch = solve(s);
    s.method = "etdrk4";
    s.substeps = 40;
    auto direct = solve(s);
    EXPECT_LT(rel_l2(ch, direct), 1e-6) << "nu=" << nu;
  }
}

TEST(Burgers, FusedColeHopfKernelMatchesTensorOps) {
  auto u0 = sines(5, 128, 2 * M_PI, 0.4, 11) + 0.2;
  auto s = spec_for(Equation::burgers, u0, 2 * M_PI, 1.0, 9, 0.07);
  s.method = "cole_hopf";
  s.solve_nx = 256;
  s.backend = "cpu";
  auto fused = solve(s);
  s.backend = "tensor";
  EXPECT_LT((fused - solve(s)).abs().max().item<double>(), 1e-12);
}

TEST(Burgers, ColeHopfHandlesMeanFlowByGalileanBoost) {
  auto u0 = sines(2, 256, 2 * M_PI, 0.4, 4) + 0.7;
  auto s = spec_for(Equation::burgers, u0, 2 * M_PI, 1.5, 16, 0.08);
  s.method = "cole_hopf";
  auto ch = solve(s);
  s.method = "etdrk4";
  s.substeps = 40;
  EXPECT_LT(rel_l2(ch, solve(s)), 1e-6);
}

TEST(Burgers, ColeHopfRefusesWhatDoublePrecisionCannotRepresent) {
  // Reference-scale initial data with nu = 0.001: psi0 spans ~e^1000; a clear error, never NaNs.
  auto u0 = sines(1, 256, 2 * M_PI, 1.5, 5);
  auto s = spec_for(Equation::burgers, u0, 2 * M_PI, 2.0, 11, 0.001);
  try {
    solve(s);
    FAIL() << "expected a SolverError";
  } catch (const SolverError& e) {
    EXPECT_NE(std::string(e.what()).find("Cole-Hopf"), std::string::npos) << e.what();
  }
}

TEST(Heat, MatchesExactFourierSolution) {
  const double L = 2 * M_PI, nu = 0.3;
  const int64_t nx = 64, nt = 9;
  auto x = grid(L, nx);
  auto u0 = at::sin(x) * 0.7 + at::cos(3 * x + 0.4) * 0.2 - 0.1 * at::sin(5 * x);
  for (const char* method : {"exact", "etdrk4"}) {
    auto s = spec_for(Equation::heat, u0.unsqueeze(0), L, 2.0, nt, nu);
    s.method = method;
    s.substeps = 2;
    auto u = solve(s);
    for (int64_t j = 0; j < nt; ++j) {
      double t = 2.0 * j / (nt - 1);
      auto exact = at::sin(x) * 0.7 * std::exp(-nu * t) + at::cos(3 * x + 0.4) * 0.2 * std::exp(-9 * nu * t) -
                   0.1 * at::sin(5 * x) * std::exp(-25 * nu * t);
      EXPECT_LT((u[0][j] - exact).abs().max().item<double>(), 1e-13) << method << " t=" << t;
    }
  }
}

TEST(Etdrk4, TemporalConvergenceOrderIsFour) {
  for (Equation eq : {Equation::kdv, Equation::ks}) {
    const double L = eq == Equation::kdv ? 50 : 32;
    auto u0 = sines(2, 128, L, 0.5, 6);
    auto s = spec_for(eq, u0, L, 4, 3);
    s.substeps = 8192;
    auto ref = solve(s);
    std::vector<double> err;
    for (int64_t m : {64, 128, 256}) {
      s.substeps = m;
      err.push_back(rel_l2(solve(s), ref));
    }
    const double order1 = std::log2(err[0] / err[1]), order2 = std::log2(err[1] / err[2]);
    EXPECT_NEAR(order2, 4.0, 0.4) << equation_name(eq) << " errors " << err[0] << " " << err[1] << " " << err[2];
    EXPECT_GT(order1, 3.3) << equation_name(eq);
  }
}

TEST(Etdrk4, FusedCpuKernelMatchesTensorOps) {
  auto u0 = sines(11, 128, 40, 0.5, 7);  // 11 rows: one full chunk of 8 plus a padded partial one
  auto s = spec_for(Equation::ks, u0, 40, 3, 4);
  s.substeps = 10;
  s.backend = "cpu";
  auto fused = solve(s);
  s.backend = "tensor";
  EXPECT_LT((fused - solve(s)).abs().max().item<double>(), 1e-11);
}

TEST(Etdrk4, TrajectoryBitsDoNotDependOnBatchNeighbours) {
  auto u0 = sines(9, 128, 50, 0.5, 8);
  auto s = spec_for(Equation::kdv, u0, 50, 2, 3);
  s.substeps = 8;
  auto all = solve(s);
  auto one = spec_for(Equation::kdv, u0.index({Slice(5, 6)}), 50, 2, 3);
  one.substeps = 8;
  EXPECT_TRUE(at::equal(solve(one)[0], all[5]));
}

TEST(Etdrk4, ChosenStepMeetsTheTolerance) {
  auto u0 = sines(2, 128, 50, 0.5, 9);
  auto s = spec_for(Equation::kdv, u0, 50, 10, 6);
  double est = 0;
  const int64_t m = choose_substeps(s, 1e-7, &est);
  EXPECT_LE(est, 1e-7);
  s.substeps = m;
  auto u = solve(s);
  s.substeps = 16 * m;
  EXPECT_LT(rel_l2(u, solve(s)), 3e-7);
}

// On a grid that cannot resolve the flow, pushing the time error far below the spatial error buys
// nothing: the step chosen against the total error is coarser and the total error barely changes.
TEST(Etdrk4, StepIsChosenAgainstTheTotalError) {
  auto s = spec_for(Equation::burgers, sines(3, 64, 2 * M_PI, 0.6, 9), 2 * M_PI, 2.0, 11, 0.03);
  s.method = "etdrk4";
  const int64_t tight = choose_substeps(s, 2e-5);
  const StepChoice c = choose_substeps_for_total_error(s, 2e-5);
  EXPECT_GT(c.spatial_error, 1e-3);
  EXPECT_NEAR(c.target, c.spatial_error / 2, 1e-15);
  EXPECT_LT(c.substeps, tight);
  SolveSpec truth = s;
  truth.u0 = sines(3, 512, 2 * M_PI, 0.6, 9);  // the same sines on 8x the points
  truth.substeps = 4 * tight;
  auto ref = solve(truth).index({Slice(), Slice(), Slice(None, None, 8)});
  s.substeps = tight;
  const double e_tight = rel_l2(solve(s), ref);
  s.substeps = c.substeps;
  const double e_total = rel_l2(solve(s), ref);
  EXPECT_LT(e_total, 1.15 * e_tight) << c.substeps << " vs " << tight << " steps";
  // A resolved grid keeps the tolerance: the same step as before.
  auto r = spec_for(Equation::burgers, sines(3, 256, 2 * M_PI, 0.3, 9), 2 * M_PI, 2.0, 11, 0.1);
  r.method = "etdrk4";
  const StepChoice rc = choose_substeps_for_total_error(r, 2e-5);
  EXPECT_LT(rc.spatial_error, 4e-5);
  EXPECT_EQ(rc.substeps, choose_substeps(r, 2e-5));
}

TEST(BadInput, ClearErrorsNamingTheProblem) {
  auto expect_error = [](const SolveSpec& s, const std::string& needle) {
    try {
      solve(s);
      ADD_FAILURE() << "expected an error mentioning '" << needle << "'";
    } catch (const SolverError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  auto u0 = sines(2, 64, 20, 0.5, 10);
  auto s = spec_for(Equation::kdv, u0, 20, 1, 3);
  s.substeps = 4;
  auto odd = s;
  odd.u0 = sines(2, 63, 20, 0.5, 10);
  expect_error(odd, "even");
  auto nan = s;
  nan.u0 = u0.clone();
  nan.u0[1][7] = NAN;
  expect_error(nan, "trajectory 1 contains NaN");
  auto neg = spec_for(Equation::burgers, u0, 20, 1, 3, 0.01);
  neg.nu[1] = -0.01;
  expect_error(neg, "nu of trajectory 1");
  auto badL = s;
  badL.L[0] = 0;
  expect_error(badL, "domain length L of trajectory 0");
  auto blow = spec_for(Equation::kdv, u0 * 400, 20, 5, 6);
  blow.substeps = 1;
  try {
    solve(blow);
    ADD_FAILURE() << "expected a blow-up error";
  } catch (const SolverError& e) {
    std::string m = e.what();
    EXPECT_TRUE(m.find("blew up") != std::string::npos || m.find("non-finite") != std::string::npos) << m;
  }
}

namespace {
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string temp_dir() {
  char tmpl[] = "/tmp/jess_test_XXXXXX";
  return mkdtemp(tmpl);
}

GenerateOptions small(const std::string& eq) {
  GenerateOptions o;
  o.equation = eq;
  o.n_train = 10;
  o.n_valid = 3;
  o.n_test = 2;
  o.nx = 64;
  o.nt = 12;
  o.nt_total = 20;
  o.batch = 4;
  o.seed = 7;
  if (eq == "kdv") o.T = 10;
  if (eq == "ks") o.T = 10;
  return o;
}
}  // namespace

TEST(Dataset, SameSeedGivesSameBytesAndLayoutMatchesReference) {
  const std::string dir = temp_dir();
  for (const char* eq : {"kdv", "burgers"}) {
    auto o = small(eq);
    generate(o, dir + "/a.h5");
    generate(o, dir + "/b.h5");
    EXPECT_EQ(slurp(dir + "/a.h5"), slurp(dir + "/b.h5")) << eq;
    jess::H5Reader r(dir + "/a.h5");
    EXPECT_EQ(r.shape("/train/pde_12-64"), (jess::H5Shape{10, 12, 64}));
    EXPECT_EQ(r.shape("/valid/pde_12-64"), (jess::H5Shape{3, 12, 64}));
    EXPECT_EQ(r.shape("/test/x"), (jess::H5Shape{2, 64}));
    EXPECT_EQ(r.shape("/test/t"), (jess::H5Shape{2, 12}));
    EXPECT_EQ(r.attr_string("/", "equation"), eq);
    EXPECT_EQ(r.attr_int("/", "seed"), 7);
    auto L = r.read_f64("/train/L"), dx = r.read_f64("/train/dx"), x = r.read_f64("/train/x");
    EXPECT_NEAR(dx[3], L[3] / 64, 1e-15);
    EXPECT_NEAR(x[3 * 64 + 5], 5 * L[3] / 64, 1e-12);
    auto u = r.read_f64("/train/pde_12-64");
    for (double v : u) ASSERT_TRUE(std::isfinite(v));
  }
  std::system(("rm -rf " + dir).c_str());
}

TEST(Dataset, LabelsReconstructTheInitialCondition) {
  const std::string dir = temp_dir();
  auto o = small("ks");
  o.nt = o.nt_total;  // keep t = 0
  generate(o, dir + "/ks.h5");
  jess::H5Reader r(dir + "/ks.h5");
  auto u = r.read_f64("/train/pde_20-64");
  auto A = r.read_f64("/train/amplitudes"), phi = r.read_f64("/train/phases"), L = r.read_f64("/train/L"),
       T = r.read_f64("/train/T");
  auto ell = r.read_i64("/train/wavenumbers");
  const int64_t K = int64_t(r.shape("/train/amplitudes")[1]);
  EXPECT_EQ(K, 10);
  for (int64_t i = 0; i < 10; ++i) {
    EXPECT_GT(L[i], 0.9 * 64 - 1e-9);
    EXPECT_LT(L[i], 1.1 * 64 + 1e-9);
    EXPECT_GT(T[i], 0.9 * 10 - 1e-9);
    for (int64_t j = 0; j < 64; ++j) {
      double x = j * L[i] / 64, u0 = 0;
      for (int64_t k = 0; k < K; ++k) u0 += A[i * K + k] * std::sin(2 * M_PI * ell[i * K + k] * x / L[i] + phi[i * K + k]);
      ASSERT_NEAR(u[size_t(i * 20 * 64 + j)], u0, 1e-12);
    }
  }
  std::system(("rm -rf " + dir).c_str());
}

TEST(Dataset, ShardsMergeIntoTheUnshardedDataset) {
  const std::string dir = temp_dir();
  auto o = small("kdv");
  o.substeps = 6;
  generate(o, dir + "/full.h5");
  std::vector<std::string> parts;
  for (int64_t i = 0; i < 3; ++i) {
    auto p = o;
    p.shard_count = 3;
    p.shard_index = i;
    parts.push_back(dir + "/part" + std::to_string(i) + ".h5");
    generate(p, parts.back());
  }
  std::swap(parts[0], parts[2]);  // any order
  merge_shards(parts, dir + "/merged.h5");
  jess::H5Reader a(dir + "/full.h5"), b(dir + "/merged.h5");
  for (const char* split : {"train", "valid", "test"})
    for (const char* name : {"pde_12-64", "x", "t", "L", "T", "amplitudes", "phases"})
      EXPECT_EQ(a.read_f64(std::string("/") + split + "/" + name), b.read_f64(std::string("/") + split + "/" + name))
          << split << "/" << name;
  // An incomplete set of shards is refused.
  EXPECT_THROW(merge_shards({parts[0], parts[1]}, dir + "/bad.h5"), std::invalid_argument);
  std::system(("rm -rf " + dir).c_str());
}

TEST(Dataset, FailedGenerationLeavesNoFile) {
  const std::string dir = temp_dir();
  auto o = small("kdv");
  o.amplitude = 500;  // blows up
  o.substeps = 1;
  EXPECT_THROW(generate(o, dir + "/x.h5"), SolverError);
  EXPECT_EQ(std::system(("test -z \"$(ls -A " + dir + ")\"").c_str()), 0) << "files left in " << dir;
  std::system(("rm -rf " + dir).c_str());
}

TEST(Dataset, InvalidConfigurationNamesTheKey) {
  GenerateOptions o;
  jess::ConfigSchema s;
  o.describe(s);
  try {
    s.apply_overrides({"nx=abc"});
    FAIL();
  } catch (const jess::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'nx'"), std::string::npos);
  }
  s.apply_overrides({"nx=65"});
  try {
    o.resolve();
    FAIL();
  } catch (const jess::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("even"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.apply_overrides({"equation=navier"}), jess::ConfigError);
  EXPECT_THROW(s.apply_overrides({"nu_mn=0.1"}), jess::ConfigError);
}

// The KdV/KS regression target is the amplitude of the initial condition's Fourier modes: it must
// equal |FFT(u0)|_l * 2 / nx of u0 rebuilt from the stored sines, and be unchanged by a shift of u0
// (which is why it is identifiable from randomly placed crops while the phases are not).
TEST(Regression, InitialConditionSpectrumTargetMatchesTheFft) {
  const std::string dir = temp_dir();
  auto o = small("kdv");
  generate(o, dir + "/k.h5");
  auto y = regression_target(dir + "/k.h5", "train", "ic_spectrum", 10);
  jess::H5Reader r(dir + "/k.h5");
  auto A = r.read_f64("/train/amplitudes"), phi = r.read_f64("/train/phases");
  auto ell = r.read_i64("/train/wavenumbers");
  const int64_t K = int64_t(A.size()) / 10, nx = 64;
  ASSERT_EQ(y.size(1), 2);  // l = 1, 2 in the KdV defaults
  for (int64_t i = 0; i < 10; ++i) {
    for (double shift : {0.0, 0.37}) {
      auto u0 = at::zeros({nx}, at::kDouble);
      for (int64_t j = 0; j < K; ++j)
        u0 += A[size_t(i * K + j)] *
              at::sin(2 * M_PI * double(ell[size_t(i * K + j)]) * (at::arange(nx, at::kDouble) / double(nx) + shift) +
                      phi[size_t(i * K + j)]);
      auto amp = at::abs(at::fft_rfft(u0)) * 2.0 / double(nx);
      for (int64_t l = 1; l <= 2; ++l) EXPECT_NEAR(y[i][l - 1].item<double>(), amp[l].item<double>(), 1e-12);
    }
  }
  auto nu = regression_target(dir + "/k.h5", "test", "log_nu", 2);
  EXPECT_EQ(nu.sizes(), (std::vector<int64_t>{2, 1}));
  EXPECT_THROW(regression_target(dir + "/k.h5", "train", "phases", 2), std::invalid_argument);
}

// The start view's shift averaging: features averaged over S equally spaced periodic shifts are
// unchanged by a shift of the data by L/S (it only permutes the passes), whereas one view of a strided
// CNN is not shift invariant (else the averaging would be pointless).
TEST(Regression, ShiftAveragedFeaturesAreInvariantToThoseShifts) {
  using namespace jess::pde::detail;
  torch::manual_seed(3);
  GridBatch b;
  b.u = at::randn({5, 8, 32}, at::kDouble);
  b.dx = at::full({5}, 0.2, at::kDouble);
  b.dt = at::full({5}, 0.1, at::kDouble);
  GridBatch rolled = b;
  rolled.u = b.u.roll({8}, {2});  // L / 4
  EncoderConfig ec;
  ec.arch = "cnn2d";
  ec.width = 4;
  SslModel m(ec, input_channels(ec.arch, 8), "16");
  const InputStats st = compute_stats(b);
  EvalView one{"start", 1, 8, 32, 0, 1}, four{"start", 1, 8, 32, 0, 4};
  auto f1 = features(*m->encoder, ec.arch, st, b, one), g1 = features(*m->encoder, ec.arch, st, rolled, one);
  auto f4 = features(*m->encoder, ec.arch, st, b, four), g4 = features(*m->encoder, ec.arch, st, rolled, four);
  const double scale = f4.abs().max().item<double>();
  EXPECT_LT((f4 - g4).abs().max().item<double>(), 1e-5 * scale);
  EXPECT_GT((f1 - g1).abs().max().item<double>(), 1e-3 * scale);
}

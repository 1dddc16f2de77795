// Lie point symmetries on gridded data: transformed trajectories satisfy the PDE, transforming the
// initial condition commutes with solving, group laws, splitting orders, exact whole-cell shifts.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "jess/core/runtime.h"
#include "jess/pde/solvers.h"
#include "jess/pde/symmetries.h"
#include "jess/pde/views.h"

using namespace jess::pde;
using at::indexing::None;
using at::indexing::Slice;

namespace {
const bool kRuntime = (jess::init_runtime(2, false), true);

struct Case {
  Equation eq;
  double L, T, nu, amp;
  int64_t nx, nt;
};

Case case_for(Equation eq) {
  switch (eq) {
    case Equation::kdv: return {eq, 50, 4, 0, 0.6, 128, 81};
    case Equation::ks: return {eq, 32, 4, 0, 0.6, 128, 81};
    case Equation::burgers: return {eq, 2 * M_PI, 1, 0.1, 0.5, 128, 81};
    case Equation::heat: return {eq, 2 * M_PI, 1, 0.3, 0.7, 128, 81};
  }
  return {};
}

at::Tensor initial(const Case& c, double L) {
  auto x = at::arange(c.nx, at::kDouble) * (L / double(c.nx));
  return (c.amp * at::sin(2 * M_PI * x / L) + 0.5 * c.amp * at::cos(4 * M_PI * x / L + 1.0) +
          0.2 * c.amp * at::sin(6 * M_PI * x / L + 0.3))
      .unsqueeze(0);
}

at::Tensor solve_case(const Case& c, const at::Tensor& u0, double L, double T) {
  SolveSpec s;
  s.equation = c.eq;
  s.u0 = u0;
  s.L = at::full({u0.size(0)}, L, at::kDouble);
  s.T = at::full({u0.size(0)}, T, at::kDouble);
  s.nu = at::full({u0.size(0)}, c.nu, at::kDouble);
  s.nt_total = c.nt;
  s.nt_keep = c.nt;
  s.substeps = 16;
  return solve(s);
}

GridBatch batch_for(const Case& c, const at::Tensor& u) {
  GridBatch g;
  g.u = u;
  g.dx = at::full({u.size(0)}, c.L / double(c.nx), at::kDouble);
  g.dt = at::full({u.size(0)}, c.T / double(c.nt - 1), at::kDouble);
  g.nu = at::full({u.size(0)}, c.nu, at::kDouble);
  return g;
}

GroupElement element(std::vector<Factor> f, double ft = 0, double fx = 0) {
  GroupElement e;
  e.factors = std::move(f);
  e.crop_t_fraction = ft;
  e.crop_x_fraction = fx;
  return e;
}

double rel_residual(const Case& c, const Views& v, bool periodic) {
  auto r = pde_residual(c.eq, v.u[0], v.dx.item<double>(), v.dt.item<double>(), c.nu, periodic);
  auto scale = pde_residual(Equation::heat, v.u[0], v.dx.item<double>(), v.dt.item<double>(), 0.0, periodic);  // = u_t
  return r.abs().max().item<double>() / scale.abs().max().item<double>();
}
}  // namespace

TEST(FourierShift, WholeCellsEqualRollExactlyAndFractionsAreBandLimited) {
  at::manual_seed(1);
  auto u = at::randn({3, 64}, at::kDouble);
  auto shifted = fourier_shift(u, at::tensor({3.0, -5.0, 0.0}, at::kDouble));
  EXPECT_TRUE(at::equal(shifted[0], at::roll(u[0], 3)));
  EXPECT_TRUE(at::equal(shifted[1], at::roll(u[1], -5)));
  EXPECT_TRUE(at::equal(shifted[2], u[2]));
  auto x = at::arange(64, at::kDouble) * (2 * M_PI / 64);
  auto f = at::sin(3 * x) + 0.5 * at::cos(7 * x);
  auto g = fourier_shift(f.unsqueeze(0), at::tensor({0.37}, at::kDouble))[0];
  const double s = 0.37 * 2 * M_PI / 64;
  EXPECT_LT((g - (at::sin(3 * (x - s)) + 0.5 * at::cos(7 * (x - s)))).abs().max().item<double>(), 1e-13);
}

// For every generator of every equation: the transformed field satisfies the PDE about as well as the
// original (bound: 20x the original's relative residual, or 1e-7), and a deliberately wrong map does not
// (at least 100x the original's residual).
TEST(Symmetries, TransformedTrajectoriesSatisfyThePde) {
  struct Item {
    Generator g;
    double eps;
    std::function<at::Tensor(const at::Tensor& u, const Views& v)> wrong;
  };
  auto minus_const = [](double e) { return [e](const at::Tensor& u, const Views&) { return u - e; }; };
  auto rescale = [](double f) { return [f](const at::Tensor& u, const Views&) { return u * f; }; };
  for (Equation eq : {Equation::kdv, Equation::ks, Equation::burgers, Equation::heat}) {
    const Case c = case_for(eq);
    auto data = solve_case(c, initial(c, c.L), c.L, c.T);
    auto batch = batch_for(c, data);
    const int64_t ct = c.nt - 16, cx_periodic = c.nx, cx_window = c.nx / 2;
    // The untransformed field's residual, by the same differences (spectral in x for periodic views,
    // 8th-order differences for windows).
    Views plain = apply_symmetries(eq, batch, {element({}, 0.5, 0.25)}, ct, cx_periodic);
    Views plain_window = apply_symmetries(eq, batch, {element({}, 0.5, 0.25)}, ct, cx_window);
    const double base_periodic = rel_residual(c, plain, true), base_window = rel_residual(c, plain_window, false);
    ASSERT_LT(base_periodic, 1e-6) << equation_name(eq) << ": the reference solution itself is not accurate";
    std::vector<Item> items;
    for (Generator g : symmetry_generators(eq)) {
      switch (g) {
        case Generator::x_shift:
          // Wrong: shift alternate rows differently (not a symmetry).
          items.push_back({g, 0.3, [](const at::Tensor& u, const Views&) {
                             auto w = u.clone();
                             w.index_put_({Slice(), Slice(0, None, 2)}, at::roll(u.index({Slice(), Slice(0, None, 2)}), 5, 2));
                             return w;
                           }});
          break;
        case Generator::galilean: items.push_back({g, eq == Equation::burgers ? 0.3 : 0.4, minus_const(eq == Equation::burgers ? 0.3 : 0.4)}); break;
        case Generator::scaling:
          if (eq == Equation::heat)  // values are unchanged, the grid is not: a wrong time scale must fail
            items.push_back({g, 0.1, [](const at::Tensor& u, const Views&) { return u; }});
          else
            items.push_back({g, 0.1, rescale(std::exp(0.1))});
          break;
        case Generator::projective:
          if (eq == Equation::heat)  // x u is not a heat solution
            items.push_back({g, 0.1, [](const at::Tensor& u, const Views& v) {
                               return u * (1 + 0.3 * at::arange(u.size(2), at::kDouble) * v.dx.item<double>());
                             }});
          else
            items.push_back({g, 0.2, rescale(1.3)});
          break;
        case Generator::psi_scaling: items.push_back({g, 0.3, [](const at::Tensor& u, const Views&) { return u * u; }}); break;
        case Generator::heat_galilean: items.push_back({g, 0.2, rescale(1.0)}); break;
        case Generator::superposition: items.push_back({g, 0.7, rescale(1.0)}); break;
      }
    }
    for (const auto& it : items) {
      const bool periodic = it.g != Generator::projective && it.g != Generator::heat_galilean;
      const double base = periodic ? base_periodic : base_window;
      Factor f{it.g, it.eps, 0, 0};
      if (it.g == Generator::superposition) {
        f.aux0 = eq == Equation::burgers ? 0.37 : 2;
        f.aux1 = 0.4;
      }
      Views v = apply_symmetries(eq, batch, {element({f}, 0.5, 0.25)}, ct, periodic ? cx_periodic : cx_window);
      const double r = rel_residual(c, v, periodic);
      std::printf("  residual %-8s %-14s transformed %.2e  untransformed %.2e\n", equation_name(eq).c_str(),
                  generator_name(it.g).c_str(), r, base);
      EXPECT_LT(r, std::max(20 * base, 1e-7)) << equation_name(eq) << " " << generator_name(it.g) << " base " << base;
      // The transform did something.
      Views p = periodic ? plain : plain_window;
      EXPECT_GT((v.u - p.u).abs().max().item<double>() + std::abs(v.dt.item<double>() - p.dt.item<double>()), 1e-3)
          << generator_name(it.g);
      if (it.g == Generator::heat_galilean || it.g == Generator::superposition) {
        // Wrong map: the right point map without its value factor / with a non-solution partner.
        Views w = v;
        if (it.g == Generator::heat_galilean) {
          Factor bad{Generator::x_shift, -2 * c.nu * it.eps * 0 + 0.01, 0, 0};  // a shift only: then apply x-dependent factor
          w = apply_symmetries(eq, batch, {element({bad}, 0.5, 0.25)}, ct, cx_window);
          w.u = w.u * at::exp(-it.eps * at::arange(cx_window, at::kDouble) * w.dx.item<double>());
        } else {
          w.u = v.u + 0.05 * at::sin(3 * at::arange(v.u.size(2), at::kDouble) * v.dx.item<double>()) *
                          at::arange(v.u.size(1), at::kDouble).unsqueeze(1) / double(v.u.size(1));
        }
        EXPECT_GT(rel_residual(c, w, it.g != Generator::heat_galilean), 100 * std::max(base, r))
            << equation_name(eq) << " wrong " << generator_name(it.g);
      } else {
        Views w = v;
        w.u = it.wrong(v.u, v);
        if (eq == Equation::heat && it.g == Generator::scaling) w.dt = p.dt;  // x scaled, t not
        EXPECT_GT(rel_residual(c, w, periodic), 100 * std::max(base, r)) << equation_name(eq) << " wrong " << generator_name(it.g);
      }
    }
  }
}

// A scaling on the data's grid resamples the stretched pattern (dx, dt unchanged) instead of relabelling
// the data's own samples with scaled dx, dt: still a solution of the same PDE on the data's grid.
TEST(Symmetries, ScaledViewsOnTheDataGridSolveThePde) {
  for (Equation eq : {Equation::kdv, Equation::burgers}) {
    const Case c = case_for(eq);
    auto batch = batch_for(c, solve_case(c, initial(c, c.L), c.L, c.T));
    const int64_t ct = c.nt / 2, cx = c.nx / 2;
    Views plain = apply_symmetries(eq, batch, {element({}, 0.5, 0.25)}, ct, cx);
    const double base = rel_residual(c, plain, false);
    for (double eps : {0.1, -0.1}) {
      GroupElement relabelled = element({Factor{Generator::scaling, eps, 0, 0}}, 0.5, 0.25), resampled = relabelled;
      resampled.data_grid = true;
      Views r = apply_symmetries(eq, batch, {relabelled}, ct, cx), d = apply_symmetries(eq, batch, {resampled}, ct, cx);
      EXPECT_NEAR(d.dx.item<double>(), batch.dx.item<double>(), 1e-15);
      EXPECT_NEAR(d.dt.item<double>(), batch.dt.item<double>(), 1e-15);
      EXPECT_GT(std::abs(r.dx.item<double>() - batch.dx.item<double>()), 1e-3 * batch.dx.item<double>());
      const double res = rel_residual(c, d, false);
      EXPECT_LT(res, std::max(20 * base, 1e-7)) << equation_name(eq) << " eps " << eps << " base " << base;
      // On the data's grid the values of the stretched pattern differ from the relabelled samples; the
      // relabelled ones, read on the data's grid, are no solution.
      EXPECT_GT((d.u - r.u).abs().max().item<double>(), 1e-2 * r.u.abs().max().item<double>());
      Views wrong = r;
      wrong.dx = d.dx;
      wrong.dt = d.dt;
      EXPECT_GT(rel_residual(c, wrong, false), 100 * std::max(base, res)) << equation_name(eq) << " eps " << eps;
    }
    // Several views per trajectory (the view loader's layout): view k of trajectory k % B.
    GroupElement e1 = element({Factor{Generator::scaling, 0.1, 0, 0}}, 0.5, 0.25), e2 = e1;
    e1.data_grid = e2.data_grid = true;
    e2.factors[0].epsilon = -0.1;
    Views two = apply_symmetries(eq, batch, {e1, e2}, ct, cx);
    ASSERT_EQ(two.u.size(0), 2);
    EXPECT_LT((two.u[1] - apply_symmetries(eq, batch, {e2}, ct, cx).u[0]).abs().max().item<double>(), 1e-12);
  }
}

// Where the symmetry maps initial data to initial data, transforming u0 and solving equals solving and
// transforming.
TEST(Symmetries, TransformThenSolveEqualsSolveThenTransform) {
  for (Equation eq : {Equation::kdv, Equation::burgers}) {
    const Case c = case_for(eq);
    auto u0 = initial(c, c.L);
    auto data = solve_case(c, u0, c.L, c.T);
    auto batch = batch_for(c, data);
    const double e = 0.08;
    // Galilean boost: u0 + e on the same domain.
    {
      Views v = apply_symmetries(eq, batch, {element({{Generator::galilean, e, 0, 0}})}, c.nt, c.nx);
      auto direct = solve_case(c, u0 + e, c.L, c.T);
      EXPECT_LT((v.u - direct).abs().max().item<double>(), 1e-6 * direct.abs().max().item<double>()) << "galilean";
    }
    // Scaling: the same samples times e^{-2e} (KdV) / e^{-e} (Burgers) on a domain e^e L, until e^{3e} T / e^{2e} T.
    {
      Views v = apply_symmetries(eq, batch, {element({{Generator::scaling, e, 0, 0}})}, c.nt, c.nx);
      const double a = eq == Equation::kdv ? std::exp(-2 * e) : std::exp(-e);
      const double tt = eq == Equation::kdv ? std::exp(3 * e) : std::exp(2 * e);
      auto direct = solve_case(c, u0 * a, c.L * std::exp(e), c.T * tt);
      EXPECT_LT((v.u - direct).abs().max().item<double>(), 1e-6 * direct.abs().max().item<double>()) << "scaling";
      EXPECT_NEAR(v.dx.item<double>(), std::exp(e) * c.L / double(c.nx), 1e-14);
      EXPECT_NEAR(v.dt.item<double>(), tt * c.T / double(c.nt - 1), 1e-14);
    }
    // Space translation.
    {
      Views v = apply_symmetries(eq, batch, {element({{Generator::x_shift, 0.123, 0, 0}})}, c.nt, c.nx);
      auto shifted0 = fourier_shift(u0, at::tensor({0.123 * double(c.nx)}, at::kDouble));
      auto direct = solve_case(c, shifted0, c.L, c.T);
      EXPECT_LT((v.u - direct).abs().max().item<double>(), 1e-6 * direct.abs().max().item<double>()) << "x_shift";
    }
  }
}

TEST(Symmetries, GroupLawsHold) {
  for (Equation eq : {Equation::kdv, Equation::burgers, Equation::heat}) {
    const Case c = case_for(eq);
    auto batch = batch_for(c, solve_case(c, initial(c, c.L), c.L, c.T));
    for (Generator g : symmetry_generators(eq)) {
      if (g == Generator::superposition) continue;  // not a one-parameter subgroup here
      const double e1 = g == Generator::projective ? 0.05 : 0.07, e2 = g == Generator::projective ? 0.03 : -0.02;
      const bool periodic = g != Generator::projective && g != Generator::heat_galilean;
      const int64_t cx = periodic ? c.nx : c.nx / 2, ct = c.nt - 16;
      Views two = apply_symmetries(eq, batch, {element({{g, e1, 0, 0}, {g, e2, 0, 0}}, 0.4, 0.3)}, ct, cx);
      Views one = apply_symmetries(eq, batch, {element({{g, e1 + e2, 0, 0}}, 0.4, 0.3)}, ct, cx);
      EXPECT_LT((two.u - one.u).abs().max().item<double>(), 1e-9) << equation_name(eq) << " " << generator_name(g);
      Views zero = apply_symmetries(eq, batch, {element({{g, 0.0, 0, 0}}, 0.4, 0.3)}, ct, cx);
      Views id = apply_symmetries(eq, batch, {element({}, 0.4, 0.3)}, ct, cx);
      EXPECT_LT((zero.u - id.u).abs().max().item<double>(), 1e-12) << generator_name(g);
    }
  }
}

// Lie-Trotter approximates exp(e1 X1 + e2 X2) to first order in 1/steps, Strang to second order.
TEST(Symmetries, SplittingOrders) {
  const Case c = case_for(Equation::kdv);
  auto batch = batch_for(c, solve_case(c, initial(c, c.L), c.L, c.T));
  AugmentOptions o;
  o.equation = "kdv";
  o.x_shift = 0;
  o.galilean = 0.4;
  o.scaling = 0.3;
  o.resolve();
  auto views = [&](const std::string& split, int64_t steps) {
    AugmentOptions p = o;
    p.splitting = split;
    p.steps = steps;
    auto el = sample_elements(p, 1, 11, 0);
    el[0].crop_t_fraction = 0;
    el[0].crop_x_fraction = 0;
    return apply_symmetries(Equation::kdv, batch, el, 40, c.nx).u;
  };
  auto ref = views("strang", 256);
  double lie1 = (views("lie", 4) - ref).abs().max().item<double>(), lie2 = (views("lie", 8) - ref).abs().max().item<double>();
  double st1 = (views("strang", 4) - ref).abs().max().item<double>(), st2 = (views("strang", 8) - ref).abs().max().item<double>();
  EXPECT_NEAR(std::log2(lie1 / lie2), 1.0, 0.25) << lie1 << " " << lie2;
  EXPECT_NEAR(std::log2(st1 / st2), 2.0, 0.3) << st1 << " " << st2;
}

TEST(Symmetries, SamplingIsDeterministicAndWithinStrengths) {
  AugmentOptions o;
  o.equation = "burgers";
  o.superposition = 0.5;  // off by default for Burgers
  o.resolve();
  auto a = sample_elements(o, 5, 3, 1), b = sample_elements(o, 5, 3, 1), d = sample_elements(o, 5, 4, 1);
  ASSERT_EQ(a.size(), 5u);
  EXPECT_EQ(a[2].factors[3].epsilon, b[2].factors[3].epsilon);
  EXPECT_NE(a[2].factors[3].epsilon, d[2].factors[3].epsilon);
  EXPECT_EQ(a[0].factors[0].generator, Generator::superposition);
  // Strang with 2 steps: every one-parameter generator appears 4 times with e/4 each.
  double total = 0;
  for (const auto& f : a[1].factors)
    if (f.generator == Generator::galilean) {
      total += f.epsilon;
      EXPECT_LE(std::abs(f.epsilon), o.galilean / 4 + 1e-15);
    }
  EXPECT_LE(std::abs(total), o.galilean);
  AugmentOptions ks;
  ks.equation = "ks";
  ks.scaling = 0.1;
  EXPECT_THROW(ks.resolve(), jess::ConfigError);  // scaling is not a symmetry of KS
}

// The Galilean strength is a fraction of the data's std(u): the same draws scale with the velocity
// scale, and no other generator's draw changes.
TEST(Symmetries, GalileanStrengthIsRelativeToTheVelocityScale) {
  AugmentOptions o;
  o.equation = "burgers";
  o.superposition = 0;
  o.resolve();
  AugmentOptions scaled = o;
  scaled.velocity_scale = 0.03;
  auto a = sample_elements(o, 4, 9, 2), b = sample_elements(scaled, 4, 9, 2);
  for (size_t v = 0; v < a.size(); ++v) {
    ASSERT_EQ(a[v].factors.size(), b[v].factors.size());
    for (size_t k = 0; k < a[v].factors.size(); ++k) {
      const double factor = a[v].factors[k].generator == Generator::galilean ? 0.03 : 1.0;
      EXPECT_NEAR(b[v].factors[k].epsilon, factor * a[v].factors[k].epsilon, 1e-15);
    }
  }
  // The view loader fills the scale from its data: std(u) of the split.
  GridBatch d{at::randn({4, 8, 16}, at::kFloat) * 3.0, at::ones({4}, at::kDouble), at::ones({4}, at::kDouble),
              at::ones({4}, at::kDouble)};
  EXPECT_NEAR(velocity_scale(d), d.u.to(at::kDouble).std().item<double>(), 1e-12);
}

TEST(ViewLoader, DeterministicBackgroundBatchesOfTwoViews) {
  const Case c = case_for(Equation::kdv);
  auto u0 = at::cat({initial(c, c.L), 0.5 * initial(c, c.L), at::roll(initial(c, c.L), 17, 1), -initial(c, c.L)});
  GridBatch data = batch_for(c, solve_case(c, u0, c.L, c.T).to(at::kFloat));
  ViewLoaderOptions o;
  o.augment.equation = "kdv";
  o.augment.crop_t = 32;
  o.augment.crop_x = 64;
  o.batch = 2;
  o.seed = 5;
  std::vector<ViewBatch> first, second;
  {
    PdeViewLoader a(data, Equation::kdv, o);
    for (int i = 0; i < 3; ++i) first.push_back(a.next());
  }
  o.prefetch = 1;
  {
    PdeViewLoader b(data, Equation::kdv, o);
    for (int i = 0; i < 3; ++i) second.push_back(b.next());
  }
  // Made by next() (prefetch 0, as for a CPU model): the same batches, across the epoch boundary and when
  // started mid-stream (resume at epoch 1, step 0).
  o.prefetch = 0;
  {
    PdeViewLoader inline_loader(data, Equation::kdv, o);
    for (int i = 0; i < 3; ++i) {
      ViewBatch v = inline_loader.next();
      EXPECT_TRUE(at::equal(v.view1, first[size_t(i)].view1) && at::equal(v.view2, first[size_t(i)].view2)) << i;
      EXPECT_TRUE(at::equal(v.index, first[size_t(i)].index)) << i;
      EXPECT_EQ(v.epoch, first[size_t(i)].epoch);
      EXPECT_EQ(v.step, first[size_t(i)].step);
    }
    ViewLoaderOptions resumed = o;
    resumed.start_epoch = 1;
    PdeViewLoader later(data, Equation::kdv, resumed);
    EXPECT_TRUE(at::equal(later.next().view1, first[2].view1));
  }
  o.prefetch = -1;
  EXPECT_THROW(PdeViewLoader(data, Equation::kdv, o), std::invalid_argument);
  o.prefetch = 2;
  EXPECT_EQ(first[0].view1.sizes(), (std::vector<int64_t>{2, 32, 64}));
  EXPECT_EQ(first[0].view1.dtype(), at::kFloat);
  EXPECT_EQ(first[2].epoch, 1);  // 4 trajectories, batch 2: the third batch starts epoch 1
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(at::equal(first[size_t(i)].view1, second[size_t(i)].view1));
    EXPECT_TRUE(at::equal(first[size_t(i)].index, second[size_t(i)].index));
    EXPECT_GT((first[size_t(i)].view1 - first[size_t(i)].view2).abs().max().item<float>(), 1e-2);
  }
  // An epoch visits every trajectory once.
  auto seen = std::get<0>(at::cat({first[0].index, first[1].index}).sort());
  EXPECT_TRUE(at::equal(seen, at::arange(4, at::kLong)));
  o.batch = 9;
  EXPECT_THROW(PdeViewLoader(data, Equation::kdv, o), std::invalid_argument);
}

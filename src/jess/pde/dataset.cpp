#include "jess/pde/dataset.h"
#include "jess/pde/ns2d.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <sstream>

#include "jess/core/hdf5_file.h"
#include "jess/core/npy.h"
#include "jess/core/plot.h"
#include "jess/core/progress.h"
#include "jess/core/rng.h"
#include "jess/core/version.h"
#include "jess/pde/solvers.h"

namespace jess::pde {

namespace {
const char* kSplits[3] = {"train", "valid", "test"};

std::string fmt(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}
}  // namespace

void GenerateOptions::describe(ConfigSchema& s) {
  s.add("equation", equation, "PDE to solve: kdv, ks, burgers or heat", check::one_of({"kdv", "ks", "burgers", "heat"}));
  s.add("seed", seed, "seed of every random draw (also --seed)");
  s.add("n_train", n_train, "trajectories in the train split", check::int_at_least(0));
  s.add("n_valid", n_valid, "trajectories in the valid split", check::int_at_least(0));
  s.add("n_test", n_test, "trajectories in the test split", check::int_at_least(0));
  s.add("nx", nx, "spatial grid points (even, periodic grid x_j = j L / nx)", check::int_at_least(8));
  s.add("nt", nt, "saved time steps: the last nt of nt_total", check::positive_int());
  s.add("nt_total", nt_total, "time grid size on [0, T] (0: kdv 250, ks 500, burgers/heat 180)", check::int_at_least(0));
  s.add("L", L, "domain length (0: kdv 128, ks 64, burgers/heat 2 pi)", check::non_negative());
  s.add("T", T, "final time (0: kdv/ks 100, burgers 18 * similarity, heat 16)", check::non_negative());
  s.add("jitter", jitter, "relative per-trajectory jitter of L and T (<0: 0.1 for kdv/ks, else 0)", check::in_range(-1, 0.9));
  s.add("n_sines", n_sines, "sines in the initial condition (0: 10 kdv/ks, 20 burgers/heat)", check::int_at_least(0));
  s.add("ell_min", ell_min, "smallest wave number l (sin(2 pi l x / L))", check::positive_int());
  s.add("ell_max", ell_max, "largest wave number l, inclusive (0: 2 kdv/ks, 6 burgers/heat)", check::int_at_least(0));
  s.add("amplitude", amplitude, "amplitudes A ~ U(-amplitude, amplitude)", check::non_negative());
  s.add("nu_min", nu_min, "smallest viscosity (<0: burgers 0.001, heat 0.01)");
  s.add("nu_max", nu_max, "largest viscosity (<0: burgers 0.007, heat 0.01)");
  s.add("similarity", similarity, "burgers: u0 / s over time T * s, the same flow as nu * s at unit scale", check::positive());
  s.add("method", method, "solver: auto, etdrk4, cole_hopf (burgers), exact (heat)",
        check::one_of({"auto", "etdrk4", "cole_hopf", "exact"}));
  s.add("backend", backend, "auto, cpu (fused FFTW kernel) or tensor (any device)", check::one_of({"auto", "cpu", "tensor"}));
  s.add("solve_nx", solve_nx, "burgers/heat: solve on this finer grid, sample down (0: 2 nx burgers, nx heat)",
        check::int_at_least(0));
  s.add("cole_hopf_tolerance", cole_hopf_tolerance, "burgers: largest accepted estimate of the Cole-Hopf relative error",
        check::positive());
  s.add("substeps", substeps,
        "ETDRK4 steps per output interval (0: chosen for max(tolerance, half the grid's spatial error))",
        check::int_at_least(0));
  s.add("tolerance", tolerance,
        "target relative L2 error of the time stepping when substeps = 0 (loosened to half the estimated "
        "spatial error when that is larger: the total error is then within ~12 % of the spatial floor)",
        check::positive());
  s.add("probe", probe, "trajectories used to choose substeps", check::positive_int());
  s.add("batch", batch, "trajectories solved together", check::positive_int());
  s.add("shard_index", shard_index, "this process's shard (0-based)", check::int_at_least(0));
  s.add("shard_count", shard_count, "number of shards the generation is split into", check::positive_int());
  s.add("compression", compression, "gzip level of the trajectory datasets, 0-9", check::int_in(0, 9));
}

void GenerateOptions::resolve() {
  const Equation eq = parse_equation(equation);
  const bool kk = eq == Equation::kdv || eq == Equation::ks;
  if (nt_total == 0) nt_total = eq == Equation::kdv ? 250 : eq == Equation::ks ? 500 : 180;
  if (L == 0) L = eq == Equation::kdv ? 128.0 : eq == Equation::ks ? 64.0 : 2 * M_PI;
  if (eq != Equation::burgers) similarity = 1;
  if (T == 0) T = kk ? 100.0 : eq == Equation::burgers ? 18.0 * similarity : 16.0;
  if (jitter < 0) jitter = kk ? 0.1 : 0.0;
  if (n_sines == 0) n_sines = kk ? 10 : 20;
  if (ell_max == 0) ell_max = kk ? 2 : 6;
  if (nu_min < 0) nu_min = eq == Equation::burgers ? 0.001 : 0.01;
  if (nu_max < 0) nu_max = eq == Equation::burgers ? 0.007 : 0.01;
  if (solve_nx == 0) solve_nx = eq == Equation::burgers ? 2 * nx : nx;

  if (nx % 2 != 0) throw ConfigError("config key 'nx' = '" + std::to_string(nx) + "': must be even (periodic spectral grid)");
  if (nt > nt_total)
    throw ConfigError("config key 'nt' = '" + std::to_string(nt) + "': must be <= nt_total = " + std::to_string(nt_total));
  if (ell_max < ell_min)
    throw ConfigError("config key 'ell_max' = '" + std::to_string(ell_max) + "': must be >= ell_min = " + std::to_string(ell_min));
  if (2 * ell_max >= nx / 3 * 2)
    throw ConfigError("config key 'ell_max' = '" + std::to_string(ell_max) + "': wave numbers must stay well below nx/3");
  if (eq == Equation::burgers || eq == Equation::heat) {
    if (!(nu_min > 0)) throw ConfigError("config key 'nu_min' = '" + fmt(nu_min) + "': must be > 0");
    if (nu_max < nu_min) throw ConfigError("config key 'nu_max' = '" + fmt(nu_max) + "': must be >= nu_min = " + fmt(nu_min));
  }
  if (solve_nx % nx != 0)
    throw ConfigError("config key 'solve_nx' = '" + std::to_string(solve_nx) + "': must be a multiple of nx = " + std::to_string(nx));
  if (kk && solve_nx != nx) throw ConfigError("config key 'solve_nx' applies to burgers and heat only");
  if (shard_index >= shard_count)
    throw ConfigError("config key 'shard_index' = '" + std::to_string(shard_index) + "': must be < shard_count = " +
                      std::to_string(shard_count));
  if (n_train + n_valid + n_test == 0) throw ConfigError("nothing to generate: n_train, n_valid and n_test are all 0");
  ConfigSchema s;
  describe(s);
  config_yaml = s.to_yaml();
}

namespace {

struct Params {  // one split's (or shard's) sampled parameters, row-major
  int64_t n = 0, K = 0;
  std::vector<double> L, T, nu, A, phi;
  std::vector<int64_t> ell;
};

Params sample(const GenerateOptions& o, int split, int64_t first, int64_t count) {
  Params p;
  p.n = count;
  p.K = o.n_sines;
  const double scale = parse_equation(o.equation) == Equation::burgers ? 1.0 / o.similarity : 1.0;
  for (int64_t i = first; i < first + count; ++i) {
    // Draws depend only on (seed, split, index): shards and batch sizes give identical parameters,
    // and so does a different nx (used to compute a fine-grid truth for the same trajectories).
    Rng rng(uint64_t(o.seed), uint64_t(split), uint64_t(i));
    p.L.push_back(o.L * (1 + o.jitter * rng.uniform(-1, 1)));
    p.T.push_back(o.T * (1 + o.jitter * rng.uniform(-1, 1)));
    p.nu.push_back(rng.uniform(o.nu_min, o.nu_max));
    for (int64_t k = 0; k < o.n_sines; ++k) {
      p.A.push_back(scale * rng.uniform(-o.amplitude, o.amplitude));
      p.phi.push_back(rng.uniform(0, 2 * M_PI));
      p.ell.push_back(rng.integer(o.ell_min, o.ell_max));
    }
  }
  return p;
}

// u0(x) = sum_k A_k sin(2 pi l_k x / L + phi_k) at x_j = j L / nx, for rows [r0, r0 + rows).
at::Tensor initial_condition(const Params& p, int64_t r0, int64_t rows, int64_t nx) {
  auto u0 = at::zeros({rows, nx}, at::kDouble);
  double* u = u0.data_ptr<double>();
  for (int64_t b = 0; b < rows; ++b)
    for (int64_t k = 0; k < p.K; ++k) {
      const size_t idx = size_t((r0 + b) * p.K + k);
      const double A = p.A[idx], phi = p.phi[idx], w = 2 * M_PI * double(p.ell[idx]) / double(nx);
      for (int64_t j = 0; j < nx; ++j) u[b * nx + j] += A * std::sin(w * double(j) + phi);
    }
  return u0;
}

at::Tensor slice_vec(const std::vector<double>& v, int64_t r0, int64_t rows) {
  return at::from_blob(const_cast<double*>(v.data()) + r0, {rows}, at::kDouble).clone();
}

SolveSpec make_spec(const GenerateOptions& o, const Params& p, int64_t r0, int64_t rows) {
  SolveSpec s;
  s.equation = parse_equation(o.equation);
  s.u0 = initial_condition(p, r0, rows, o.nx);
  s.L = slice_vec(p.L, r0, rows);
  s.T = slice_vec(p.T, r0, rows);
  s.nu = slice_vec(p.nu, r0, rows);
  s.nt_total = o.nt_total;
  s.nt_keep = o.nt;
  s.substeps = o.substeps;
  s.method = o.method;
  s.backend = o.backend;
  s.solve_nx = o.solve_nx == o.nx ? 0 : o.solve_nx;
  s.cole_hopf_tolerance = o.cole_hopf_tolerance;
  return s;
}

std::string solver_description(const GenerateOptions& o, int64_t substeps) {
  const Equation eq = parse_equation(o.equation);
  std::string method = o.method;
  if (method == "auto") method = eq == Equation::burgers ? "cole_hopf" : eq == Equation::heat ? "exact" : "etdrk4";
  if (method == "etdrk4")
    return "Fourier pseudo-spectral, 2/3-rule dealiasing, ETDRK4 (Kassam-Trefethen contour, 32 points), " +
           std::to_string(substeps) + " steps per output interval";
  if (method == "cole_hopf")
    return "Cole-Hopf: exact heat propagation in Fourier space on " + std::to_string(o.solve_nx) +
           " points, u = -2 nu psi_x / psi, sampled to nx";
  return "exact Fourier solution of the heat equation";
}

void write_root_attrs(H5Writer& w, const GenerateOptions& o, int64_t substeps, const std::string& solver) {
  w.attr("/", "equation", o.equation);
  w.attr("/", "jess_version", std::string(JESS_VERSION));
  w.attr("/", "seed", o.seed);
  w.attr("/", "solver", solver);
  w.attr("/", "substeps", substeps);
  w.attr("/", "tolerance", o.tolerance);
  w.attr("/", "nt_total", o.nt_total);
  w.attr("/", "nx", o.nx);
  w.attr("/", "nt", o.nt);
  w.attr("/", "similarity", o.similarity);
  w.attr("/", "shard_index", o.shard_index);
  w.attr("/", "shard_count", o.shard_count);
  w.attr("/", "config", o.config_yaml);
  w.attr("/", "initial_condition",
         std::string("u0(x) = sum_k A_k sin(2 pi l_k x / L + phi_k); datasets amplitudes (A, already divided by "
                     "similarity for burgers), phases (phi), wavenumbers (l)"));
  std::string eqn = o.equation == "kdv"   ? "u_t + u u_x + u_xxx = 0"
                    : o.equation == "ks"  ? "u_t + u u_x + u_xx + u_xxxx = 0"
                    : o.equation == "burgers" ? "u_t + u u_x = nu u_xx"
                                              : "u_t = nu u_xx";
  w.attr("/", "pde", eqn);
}

std::string data_name(const GenerateOptions& o) {
  return "pde_" + std::to_string(o.nt) + "-" + std::to_string(o.nx);
}

void create_split(H5Writer& w, const GenerateOptions& o, const std::string& g, int64_t n, int64_t first, int64_t total) {
  const uint64_t N = uint64_t(n), nx = uint64_t(o.nx), nt = uint64_t(o.nt), K = uint64_t(o.n_sines);
  w.create_group(g);
  w.attr(g, "first_index", first);
  w.attr(g, "total", total);
  w.create_f64(g + "/" + data_name(o), {N, nt, nx}, int(o.compression));
  w.create_f64(g + "/x", {N, nx});
  w.create_f64(g + "/t", {N, nt});
  w.create_f64(g + "/dx", {N});
  w.create_f64(g + "/dt", {N});
  w.create_f64(g + "/L", {N});
  w.create_f64(g + "/T", {N});
  w.create_f64(g + "/nu", {N});
  w.create_f64(g + "/amplitudes", {N, K});
  w.create_f64(g + "/phases", {N, K});
  w.create_i64(g + "/wavenumbers", {N, K});
}

void write_labels(H5Writer& w, const GenerateOptions& o, const std::string& g, const Params& p) {
  const int64_t n = p.n, nx = o.nx, nt = o.nt;
  std::vector<double> x(size_t(n * nx)), t(size_t(n * nt)), dx(static_cast<size_t>(n)), dt(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    dx[size_t(i)] = p.L[size_t(i)] / double(nx);
    dt[size_t(i)] = p.T[size_t(i)] / double(o.nt_total - 1);
    for (int64_t j = 0; j < nx; ++j) x[size_t(i * nx + j)] = double(j) * dx[size_t(i)];
    for (int64_t j = 0; j < nt; ++j) t[size_t(i * nt + j)] = double(o.nt_total - nt + j) * dt[size_t(i)];
  }
  w.write_rows(g + "/x", 0, uint64_t(n), x.data());
  w.write_rows(g + "/t", 0, uint64_t(n), t.data());
  w.write_rows(g + "/dx", 0, uint64_t(n), dx.data());
  w.write_rows(g + "/dt", 0, uint64_t(n), dt.data());
  w.write_rows(g + "/L", 0, uint64_t(n), p.L.data());
  w.write_rows(g + "/T", 0, uint64_t(n), p.T.data());
  w.write_rows(g + "/nu", 0, uint64_t(n), p.nu.data());
  w.write_rows(g + "/amplitudes", 0, uint64_t(n), p.A.data());
  w.write_rows(g + "/phases", 0, uint64_t(n), p.phi.data());
  w.write_rows(g + "/wavenumbers", 0, uint64_t(n), p.ell.data());
}

bool uses_etdrk4(const GenerateOptions& o) {
  const Equation eq = parse_equation(o.equation);
  return o.method == "etdrk4" || (o.method == "auto" && (eq == Equation::kdv || eq == Equation::ks));
}
}  // namespace

GenerateSummary generate(const GenerateOptions& options, const std::string& path) {
  GenerateOptions o = options;
  o.resolve();
  GenerateSummary summary;
  summary.path = path;
  const auto start = std::chrono::steady_clock::now();

  // Choose the ETDRK4 step on a fixed probe set (the first train trajectories), so every shard makes
  // the same choice.
  if (uses_etdrk4(o) && o.substeps == 0) {
    const int64_t np = std::min<int64_t>(o.probe, std::max<int64_t>(1, o.n_train));
    Params probe = sample(o, 0, 0, np);
    const StepChoice step = choose_substeps_for_total_error(make_spec(o, probe, 0, np), o.tolerance);
    summary.substeps = step.substeps;
    summary.estimated_step_error = step.time_error;
    summary.estimated_spatial_error = step.spatial_error;
    summary.step_target = step.target;
    o.substeps = summary.substeps;
  } else {
    summary.substeps = o.substeps;
  }

  const int64_t counts[3] = {o.n_train, o.n_valid, o.n_test};
  int64_t total = 0;
  int64_t first[3], local[3];
  for (int s = 0; s < 3; ++s) {
    first[s] = counts[s] * o.shard_index / o.shard_count;
    local[s] = counts[s] * (o.shard_index + 1) / o.shard_count - first[s];
    total += local[s];
  }

  H5Writer w(path);
  write_root_attrs(w, o, o.substeps, solver_description(o, o.substeps));
  Progress bar("generate " + o.equation, total, "traj");
  SolveStats stats;
  for (int s = 0; s < 3; ++s) {
    if (counts[s] == 0) continue;
    const std::string g = std::string("/") + kSplits[s];
    Params p = sample(o, s, first[s], local[s]);
    create_split(w, o, g, local[s], first[s], counts[s]);
    write_labels(w, o, g, p);
    for (int64_t r0 = 0; r0 < local[s]; r0 += o.batch) {
      const int64_t rows = std::min(o.batch, local[s] - r0);
      SolveSpec spec = make_spec(o, p, r0, rows);
      at::Tensor u;
      try {
        u = solve(spec, [&](int64_t n) { bar.advance(n); }, &stats).contiguous();
      } catch (const SolverError& e) {
        // Name the trajectory by split and global index, not by position in the batch.
        std::string msg = e.what();
        throw SolverError(std::string(kSplits[s]) + " batch starting at trajectory " + std::to_string(first[s] + r0) +
                          ": " + msg);
      }
      w.write_rows(g + "/" + data_name(o), uint64_t(r0), uint64_t(rows), u.data_ptr<double>());
    }
  }
  w.commit();
  bar.finish();
  summary.trajectories = total;
  summary.cole_hopf_error_estimate = stats.cole_hopf_error_estimate;
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

std::vector<std::unique_ptr<H5Reader>> open_shards(const std::vector<std::string>& shard_paths) {
  if (shard_paths.empty()) throw std::invalid_argument("no shard files given");
  std::vector<std::unique_ptr<H5Reader>> shards;
  for (const auto& sp : shard_paths) shards.push_back(std::make_unique<H5Reader>(sp));
  std::sort(shards.begin(), shards.end(),
            [](const auto& a, const auto& b) { return a->attr_int("/", "shard_index") < b->attr_int("/", "shard_index"); });
  const H5Reader& r0 = *shards[0];
  const int64_t count = r0.attr_int("/", "shard_count");
  if (int64_t(shards.size()) != count)
    throw std::invalid_argument("expected " + std::to_string(count) + " shards, got " + std::to_string(shards.size()));
  // Every shard must come from the same configuration, apart from its index.
  auto strip = [](std::string yaml) {
    auto pos = yaml.find("shard_index:");
    if (pos != std::string::npos) yaml.erase(pos, yaml.find('\n', pos) - pos);
    return yaml;
  };
  for (size_t i = 0; i < shards.size(); ++i) {
    if (shards[i]->attr_int("/", "shard_index") != int64_t(i))
      throw std::invalid_argument("shard " + std::to_string(i) + " is missing (or given twice)");
    if (strip(shards[i]->attr_string("/", "config")) != strip(r0.attr_string("/", "config")))
      throw std::invalid_argument("shard file " + shards[i]->path() + " was generated with a different configuration");
  }
  return shards;
}

void merge_shards(const std::vector<std::string>& shard_paths, const std::string& path) {
  if (shard_paths.empty()) throw std::invalid_argument("no shard files given");
  {
    H5Reader first(shard_paths[0]);
    if (first.has_attr("/", "equation") && first.attr_string("/", "equation") == "ns2d") return ns2d::merge_shards(shard_paths, path);
  }
  auto opened = open_shards(shard_paths);
  struct Shard {
    std::unique_ptr<H5Reader> r;
    int64_t index;
  };
  std::vector<Shard> shards;
  for (auto& r : opened) {
    const int64_t idx = r->attr_int("/", "shard_index");
    shards.push_back({std::move(r), idx});
  }
  const H5Reader& r0 = *shards[0].r;
  for (const auto& sh : shards)
    if (sh.r->attr_int("/", "substeps") != r0.attr_int("/", "substeps"))
      throw std::invalid_argument("shard file " + sh.r->path() + " was generated with a different configuration");
  const auto o = unsharded_options<GenerateOptions>(r0);
  H5Writer w(path);
  write_root_attrs(w, o, r0.attr_int("/", "substeps"), r0.attr_string("/", "solver"));
  const std::string dn = data_name(o);
  for (const char* split : kSplits) {
    const std::string g = std::string("/") + split;
    if (!r0.exists(g)) continue;
    const int64_t total = r0.attr_int(g, "total");
    create_split(w, o, g, total, 0, total);
    int64_t next = 0;
    for (auto& sh : shards) {
      const H5Reader& r = *sh.r;
      if (r.attr_int(g, "first_index") != next)
        throw std::invalid_argument(r.path() + ": split " + split + " does not continue at trajectory " + std::to_string(next));
      const int64_t n = int64_t(r.shape(g + "/" + dn)[0]);
      for (const char* name : {"x", "t", "dx", "dt", "L", "T", "nu", "amplitudes", "phases"}) {
        auto v = r.read_f64(g + "/" + name);
        w.write_rows(g + "/" + name, uint64_t(next), uint64_t(n), v.data());
      }
      auto ell = r.read_i64(g + "/wavenumbers");
      w.write_rows(g + "/wavenumbers", uint64_t(next), uint64_t(n), ell.data());
      for (int64_t i = 0; i < n; i += 256) {  // bounded memory
        const int64_t m = std::min<int64_t>(256, n - i);
        auto rows = r.read_rows(g + "/" + dn, uint64_t(i), uint64_t(m));
        w.write_rows(g + "/" + dn, uint64_t(next + i), uint64_t(m), rows.data());
      }
      next += n;
    }
    if (next != total)
      throw std::invalid_argument(std::string("split ") + split + ": shards hold " + std::to_string(next) + " of " +
                                  std::to_string(total) + " trajectories");
  }
  w.commit();
}

std::string plot_dataset(const std::string& h5_path, const PlotOptions& opt) {
  H5Reader r(h5_path);
  if (r.has_attr("/", "equation") && r.attr_string("/", "equation") == "ns2d")
    return ns2d::plot_file(h5_path, opt.split, std::min<int64_t>(opt.count, 3), 5, opt.output);
  std::string g = "/" + opt.split;
  if (!r.exists(g)) {
    auto groups = r.children("/");
    throw std::invalid_argument(h5_path + " has no split '" + opt.split + "'" +
                                (groups.empty() ? std::string() : " (it has: " + groups[0] + (groups.size() > 1 ? ", ...)" : ")")));
  }
  std::string dn;
  for (const auto& c : r.children(g))
    if (c.rfind("pde_", 0) == 0) dn = c;
  if (dn.empty()) throw std::invalid_argument(h5_path + ": split '" + opt.split + "' holds no pde_* dataset");
  auto shape = r.shape(g + "/" + dn);
  const int64_t n = std::min<int64_t>(opt.count, int64_t(shape[0])), nt = int64_t(shape[1]), nx = int64_t(shape[2]);
  if (n == 0) throw std::invalid_argument(h5_path + ": split '" + opt.split + "' is empty");
  auto u = r.read_rows(g + "/" + dn, 0, uint64_t(n));
  auto x = r.read_rows(g + "/x", 0, uint64_t(n));
  auto t = r.read_rows(g + "/t", 0, uint64_t(n));
  std::vector<double> nu = r.exists(g + "/nu") ? r.read_rows(g + "/nu", 0, uint64_t(n)) : std::vector<double>();
  std::string eq = r.has_attr("/", "equation") ? r.attr_string("/", "equation") : "pde";
  std::vector<plot::Heatmap> panels;
  for (int64_t i = 0; i < n; ++i) {
    plot::Heatmap h;
    h.rows = nt;
    h.cols = nx;
    h.values.assign(u.begin() + i * nt * nx, u.begin() + (i + 1) * nt * nx);
    const double dx = x[size_t(i * nx + 1)] - x[size_t(i * nx)];
    h.x_min = x[size_t(i * nx)];
    h.x_max = x[size_t(i * nx + nx - 1)] + dx;
    h.y_min = t[size_t(i * nt)];
    h.y_max = t[size_t(i * nt + nt - 1)];
    std::ostringstream title;
    title.precision(3);
    title << opt.split << " #" << i << "  L=" << h.x_max;
    if (eq == "burgers" || eq == "heat") title << "  nu=" << nu[size_t(i)];
    h.title = title.str();
    panels.push_back(std::move(h));
  }
  plot::HeatmapOptions ho;
  ho.title = eq + ": " + h5_path.substr(h5_path.find_last_of('/') == std::string::npos ? 0 : h5_path.find_last_of('/') + 1);
  ho.columns = 3;
  std::string out = opt.output;
  if (out.empty()) {
    out = h5_path;
    if (out.size() > 3 && out.substr(out.size() - 3) == ".h5") out.resize(out.size() - 3);
    out += "." + opt.split + ".png";
  }
  plot::heatmaps(panels, ho, out);
  return out;
}

void SolveFileOptions::describe(ConfigSchema& s) {
  s.add("equation", equation, "kdv, ks, burgers or heat", check::one_of({"kdv", "ks", "burgers", "heat"}));
  s.add("L", L, "domain length", check::positive());
  s.add("T", T, "final time", check::positive());
  s.add("nu", nu, "viscosity (burgers, heat)", check::positive());
  s.add("nt", nt, "output times on [0, T]", check::int_at_least(2));
  s.add("nt_keep", nt_keep, "keep the last nt_keep output times (0: all)", check::int_at_least(0));
  s.add("method", method, "auto, etdrk4, cole_hopf, exact", check::one_of({"auto", "etdrk4", "cole_hopf", "exact"}));
  s.add("substeps", substeps, "ETDRK4 steps per output interval (0: chosen to meet tolerance)", check::int_at_least(0));
  s.add("tolerance", tolerance, "target relative error when substeps = 0", check::positive());
  s.add("solve_nx", solve_nx, "burgers/heat: finer solve grid, a multiple of nx (0: nx)", check::int_at_least(0));
}

void solve_file(const SolveFileOptions& o, const std::string& u0_npy, const std::string& out_path) {
  NpyArray a = read_npy(u0_npy);
  if (a.shape.size() != 1 && a.shape.size() != 2)
    throw std::invalid_argument(u0_npy + ": expected an array of shape (nx,) or (batch, nx), got " +
                                std::to_string(a.shape.size()) + " dimensions");
  const int64_t B = a.shape.size() == 1 ? 1 : a.shape[0], nx = a.shape.back();
  SolveSpec s;
  s.equation = parse_equation(o.equation);
  s.u0 = at::from_blob(a.data.data(), {B, nx}, at::kDouble).clone();
  s.L = at::full({B}, o.L, at::kDouble);
  s.T = at::full({B}, o.T, at::kDouble);
  s.nu = at::full({B}, o.nu, at::kDouble);
  s.nt_total = o.nt;
  s.nt_keep = o.nt_keep == 0 ? o.nt : o.nt_keep;
  s.method = o.method;
  s.solve_nx = o.solve_nx;
  s.substeps = o.substeps;
  if (s.substeps == 0 && (s.method == "etdrk4" || (s.method == "auto" && (s.equation == Equation::kdv || s.equation == Equation::ks))))
    s.substeps = choose_substeps_for_total_error(s, o.tolerance).substeps;
  Progress bar("solve " + o.equation, B, "traj");
  at::Tensor u = solve(s, [&](int64_t n) { bar.advance(n); }).contiguous();
  bar.finish();
  const int64_t nt = s.nt_keep;
  if (out_path.size() > 4 && out_path.substr(out_path.size() - 4) == ".npy") {
    write_npy(out_path, u.data_ptr<double>(), {B, nt, nx});
    return;
  }
  H5Writer w(out_path);
  w.attr("/", "equation", o.equation);
  w.attr("/", "jess_version", std::string(JESS_VERSION));
  w.attr("/", "substeps", s.substeps);
  w.attr("/", "nt_total", o.nt);
  ConfigSchema schema;
  SolveFileOptions copy = o;
  copy.describe(schema);
  w.attr("/", "config", schema.to_yaml());
  w.create_group("/solution");
  std::vector<double> x(size_t(B * nx)), t(size_t(B * nt)), Ls(size_t(B), o.L), Ts(size_t(B), o.T), nus(size_t(B), o.nu),
      dx(size_t(B), o.L / double(nx)), dt(size_t(B), o.T / double(o.nt - 1));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t j = 0; j < nx; ++j) x[size_t(b * nx + j)] = double(j) * o.L / double(nx);
    for (int64_t j = 0; j < nt; ++j) t[size_t(b * nt + j)] = double(o.nt - nt + j) * o.T / double(o.nt - 1);
  }
  w.write_f64("/solution/pde_" + std::to_string(nt) + "-" + std::to_string(nx), {uint64_t(B), uint64_t(nt), uint64_t(nx)},
              u.data_ptr<double>());
  w.write_f64("/solution/x", {uint64_t(B), uint64_t(nx)}, x.data());
  w.write_f64("/solution/t", {uint64_t(B), uint64_t(nt)}, t.data());
  w.write_f64("/solution/dx", {uint64_t(B)}, dx.data());
  w.write_f64("/solution/dt", {uint64_t(B)}, dt.data());
  w.write_f64("/solution/L", {uint64_t(B)}, Ls.data());
  w.write_f64("/solution/T", {uint64_t(B)}, Ts.data());
  w.write_f64("/solution/nu", {uint64_t(B)}, nus.data());
  w.commit();
}

}  // namespace jess::pde

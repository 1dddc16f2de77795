// jess._jess, data half: the batched PDE solvers and dataset generator, the exact Lie point symmetry view
// maker and its background loader, and the single-cell readers. Options go through the same schemas as
// the CLI's key=value arguments, so names, defaults and error messages are the CLI's.
#include <ATen/ATen.h>
#include <torch/csrc/utils/pybind.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bindings.h"
#include "jess/cells/readers.h"
#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/pde/dataset.h"
#include "jess/pde/solvers.h"
#include "jess/pde/symmetries.h"
#include "jess/pde/views.h"

namespace py = pybind11;

namespace jess::python {
namespace {

py::dict view_dict(const pde::ViewBatch& v) {
  py::dict d;
  d["view1"] = v.view1;
  d["dx1"] = v.dx1;
  d["dt1"] = v.dt1;
  if (v.view2.defined()) {
    d["view2"] = v.view2;
    d["dx2"] = v.dx2;
    d["dt2"] = v.dt2;
  }
  if (v.index.defined()) d["index"] = v.index;
  d["epoch"] = v.epoch;
  d["step"] = v.step;
  return d;
}

// Augmentation options from key=value overrides, checked and resolved for the equation.
pde::AugmentOptions resolved_augment(const std::string& equation, const std::vector<std::string>& overrides) {
  pde::AugmentOptions o;
  ConfigSchema s;
  o.describe(s);
  s.apply_overrides(overrides);
  o.equation = equation;
  o.resolve();
  return o;
}

// The same for trajectories of nt x nx: crops of 0 become half their extent (the pretraining default).
pde::AugmentOptions augment_options(const std::string& equation, const std::vector<std::string>& overrides, int64_t nt,
                                    int64_t nx, double velocity_scale) {
  pde::AugmentOptions o = resolved_augment(equation, overrides);
  if (o.crop_t == 0) o.crop_t = std::max<int64_t>(1, nt / 2);
  if (o.crop_x == 0) o.crop_x = std::max<int64_t>(1, nx / 2);
  if (o.crop_t > nt || o.crop_x > nx)
    throw std::invalid_argument("crops of " + std::to_string(o.crop_t) + " x " + std::to_string(o.crop_x) +
                                " do not fit trajectories of " + std::to_string(nt) + " x " + std::to_string(nx));
  if (velocity_scale > 0) o.velocity_scale = velocity_scale;
  return o;
}

pde::GridBatch grid_batch(const at::Tensor& u, const at::Tensor& dx, const at::Tensor& dt, const at::Tensor& nu) {
  if (!u.defined() || u.dim() != 3 || !at::isFloatingType(u.scalar_type()))
    throw std::invalid_argument("u must be a floating-point (B, nt, nx) tensor of trajectories");
  const int64_t B = u.size(0);
  if (B < 1 || u.size(1) < 1 || u.size(2) < 1) throw std::invalid_argument("u must hold at least one trajectory");
  auto per_row = [&](const at::Tensor& t, const char* name, double fill) {
    if (!t.defined()) return at::full({B}, fill, at::kDouble);
    auto d = t.detach().to(at::kCPU, at::kDouble).reshape({-1});
    if (d.numel() == 1) return d.expand({B}).contiguous();
    if (d.numel() != B) throw std::invalid_argument(std::string(name) + " must hold one value per trajectory (or one for all)");
    return d;
  };
  pde::GridBatch g{u.detach().to(at::kCPU).contiguous(), per_row(dx, "dx", 1), per_row(dt, "dt", 1), per_row(nu, "nu", 0)};
  if (!(g.dx > 0).all().item<bool>() || !(g.dt > 0).all().item<bool>()) throw std::invalid_argument("dx and dt must be positive");
  if (!at::isfinite(g.u).all().item<bool>()) throw std::invalid_argument("u holds NaN or infinite values");
  return g;
}

// The background loader over one split of an HDF5 file, as pretraining uses it.
class ViewLoader {
 public:
  ViewLoader(const std::string& path, const std::string& split, int64_t batch, uint64_t seed,
             const std::vector<std::string>& overrides, int64_t start_epoch, int64_t start_step, bool single_view,
             int64_t shard_begin, int64_t shard_size, int64_t prefetch) {
    pde::Equation eq;
    pde::GridBatch data = pde::load_split(path, split, &eq);
    pde::ViewLoaderOptions o;
    o.augment = augment_options(pde::equation_name(eq), overrides, data.u.size(1), data.u.size(2), 0);
    o.batch = batch;
    o.seed = seed;
    o.start_epoch = start_epoch;
    o.start_step = start_step;
    o.single_view = single_view;
    if (shard_size < 0 || shard_begin < 0 || (shard_size > 0 && shard_begin + shard_size > batch))
      throw std::invalid_argument("the shard [shard_begin, shard_begin + shard_size) must lie within the batch");
    o.shard_begin = shard_begin;
    o.shard_size = shard_size;
    o.prefetch = prefetch;
    equation_ = pde::equation_name(eq);
    trajectories_ = data.u.size(0);
    loader_ = std::make_unique<pde::PdeViewLoader>(std::move(data), eq, o);
  }
  pde::ViewBatch next() { return loader_->next(); }
  int64_t steps_per_epoch() const { return loader_->steps_per_epoch(); }
  const std::string& equation() const { return equation_; }
  int64_t trajectories() const { return trajectories_; }

 private:
  std::unique_ptr<pde::PdeViewLoader> loader_;
  std::string equation_;
  int64_t trajectories_ = 0;
};

}  // namespace

void bind_data(py::module_& m) {
  // ---- pde -------------------------------------------------------------------------------------
  m.def(
      "pde_solve",
      [](const at::Tensor& u0, const std::string& equation, const at::Tensor& L, const at::Tensor& T,
         const at::Tensor& nu, int64_t nt, int64_t nt_keep, const std::string& method, int64_t substeps,
         double tolerance) {
        if (!u0.defined() || u0.dim() != 2 || !at::isFloatingType(u0.scalar_type()))
          throw std::invalid_argument("u0 must be a floating-point (B, nx) tensor");
        if (u0.size(0) < 1 || u0.size(1) < 8 || u0.size(1) % 2 != 0)
          throw std::invalid_argument("u0 must hold at least one trajectory on an even grid of at least 8 points");
        if (nt < 2) throw std::invalid_argument("nt (output times, t = 0 included) must be at least 2");
        if (nt_keep < 0 || nt_keep > nt) throw std::invalid_argument("nt_keep must be in [0, nt] (0: all)");
        pde::SolveSpec s;
        s.equation = pde::parse_equation(equation);
        s.u0 = u0.detach().to(at::kDouble).contiguous();
        const int64_t B = u0.size(0);
        auto per_row = [&](const at::Tensor& t, const char* name) {
          auto d = t.detach().to(s.u0.device(), at::kDouble).reshape({-1});
          if (d.numel() == 1) return d.expand({B}).contiguous();
          if (d.numel() != B) throw std::invalid_argument(std::string(name) + " must be one value or one per trajectory");
          return d;
        };
        s.L = per_row(L, "L"), s.T = per_row(T, "T"), s.nu = per_row(nu, "nu");
        if (!(s.L > 0).all().item<bool>() || !(s.T > 0).all().item<bool>() || !at::isfinite(s.L).all().item<bool>() ||
            !at::isfinite(s.T).all().item<bool>())
          throw std::invalid_argument("L and T must be finite and positive");
        if (!(s.nu >= 0).all().item<bool>() || !at::isfinite(s.nu).all().item<bool>())
          throw std::invalid_argument("nu must be finite and non-negative");
        if (!at::isfinite(s.u0).all().item<bool>()) throw std::invalid_argument("u0 holds NaN or infinite values");
        s.nt_total = nt;
        s.nt_keep = nt_keep == 0 ? nt : nt_keep;
        s.method = method;
        py::gil_scoped_release release;
        if (substeps <= 0 && s.method != "exact" && s.method != "cole_hopf" &&
            !(s.method == "auto" && (s.equation == pde::Equation::burgers || s.equation == pde::Equation::heat)))
          substeps = pde::choose_substeps(s, tolerance);
        s.substeps = std::max<int64_t>(substeps, 1);
        return pde::solve(s);
      },
      py::arg("u0"), py::arg("equation"), py::arg("L"), py::arg("T"), py::arg("nu"), py::arg("nt"), py::arg("nt_keep"),
      py::arg("method"), py::arg("substeps"), py::arg("tolerance"));
  m.def(
      "pde_generate",
      [](const std::string& path, const std::vector<std::string>& overrides) {
        pde::GenerateOptions o;
        ConfigSchema s;
        o.describe(s);
        s.apply_overrides(overrides);
        o.resolve();
        pde::GenerateSummary r;
        {
          py::gil_scoped_release release;
          r = pde::generate(o, path);
        }
        return py::dict(py::arg("path") = r.path, py::arg("trajectories") = r.trajectories,
                        py::arg("seconds") = r.seconds, py::arg("substeps") = r.substeps,
                        py::arg("estimated_step_error") = r.estimated_step_error,
                        py::arg("estimated_spatial_error") = r.estimated_spatial_error);
      },
      py::arg("path"), py::arg("overrides"));
  m.def("pde_generate_keys", [] {
    pde::GenerateOptions o;
    ConfigSchema s;
    o.describe(s);
    return s.describe();
  });
  m.def("pde_augment_check", [](const std::string& equation, const std::vector<std::string>& overrides) {
    (void)resolved_augment(equation, overrides);
  });
  m.def("pde_augment_keys", [] {
    pde::AugmentOptions o;
    ConfigSchema s;
    o.describe(s);
    return s.describe();
  });
  // Every dataset of a jess HDF5 file: {split: {name: tensor}}; trajectories (pde_*) in their float32
  // layout with dx, dt and nu as the loaders read them, every other dataset as float64.
  m.def("pde_read", [](const std::string& path) {
    py::dict out;
    std::vector<std::pair<std::string, std::vector<std::pair<std::string, at::Tensor>>>> splits;
    {
      py::gil_scoped_release release;
      H5Reader r(path);
      for (const auto& split : r.children("/")) {
        std::vector<std::pair<std::string, at::Tensor>> items;
        bool has_trajectories = false;
        for (const auto& name : r.children("/" + split))
          if (name.rfind("pde_", 0) == 0) has_trajectories = true;
        if (!has_trajectories) continue;
        pde::GridBatch g = pde::load_split(path, split);
        for (const auto& name : r.children("/" + split)) {
          const std::string full = "/" + split + "/" + name;
          if (name.rfind("pde_", 0) == 0) {
            items.emplace_back(name, g.u);
            continue;
          }
          const H5Shape shape = r.shape(full);
          std::vector<int64_t> sizes(shape.begin(), shape.end());
          auto values = r.read_f64(full);
          items.emplace_back(name, at::tensor(values, at::kDouble).reshape(sizes));
        }
        splits.emplace_back(split, std::move(items));
      }
    }
    for (auto& s : splits) {
      py::dict d;
      for (auto& kv : s.second) d[py::str(kv.first)] = kv.second;
      out[py::str(s.first)] = d;
    }
    return out;
  });
  m.def("pde_load_split", [](const std::string& path, const std::string& split) {
    pde::Equation eq;
    pde::GridBatch g;
    {
      py::gil_scoped_release release;
      g = pde::load_split(path, split, &eq);
    }
    return py::dict(py::arg("u") = g.u, py::arg("dx") = g.dx, py::arg("dt") = g.dt, py::arg("nu") = g.nu,
                    py::arg("equation") = pde::equation_name(eq));
  });
  m.def("pde_velocity_scale", [](const at::Tensor& u) {
    return pde::velocity_scale(pde::GridBatch{u.detach().to(at::kCPU), at::Tensor(), at::Tensor(), at::Tensor()});
  });
  m.def(
      "pde_make_views",
      [](const std::string& equation, const at::Tensor& u, const at::Tensor& dx, const at::Tensor& dt,
         const at::Tensor& nu, const std::vector<std::string>& overrides, double velocity_scale, uint64_t seed,
         uint64_t stream, bool single_view, int64_t first) {
        const pde::Equation eq = pde::parse_equation(equation);
        pde::GridBatch g = grid_batch(u, dx, dt, nu);
        if (velocity_scale <= 0) velocity_scale = pde::velocity_scale(g);
        const auto o = augment_options(pde::equation_name(eq), overrides, g.u.size(1), g.u.size(2), velocity_scale);
        pde::ViewBatch v;
        {
          py::gil_scoped_release release;
          v = pde::make_views(eq, g, o, seed, stream, single_view, first);
        }
        return view_dict(v);
      },
      py::arg("equation"), py::arg("u"), py::arg("dx"), py::arg("dt"), py::arg("nu"), py::arg("overrides"),
      py::arg("velocity_scale"), py::arg("seed"), py::arg("stream"), py::arg("single_view") = false,
      py::arg("first") = 0);
  m.def(
      "pde_residual",
      [](const std::string& equation, const at::Tensor& u, double dx, double dt, double nu, bool periodic) {
        if (!u.defined() || u.dim() != 2) throw std::invalid_argument("u must be one (nt, nx) trajectory");
        return pde::pde_residual(pde::parse_equation(equation), u.detach().to(at::kCPU, at::kDouble), dx, dt, nu, periodic);
      },
      py::arg("equation"), py::arg("u"), py::arg("dx"), py::arg("dt"), py::arg("nu"), py::arg("periodic"));
  py::class_<ViewLoader>(m, "ViewLoader")
      .def(py::init<const std::string&, const std::string&, int64_t, uint64_t, const std::vector<std::string>&, int64_t,
                    int64_t, bool, int64_t, int64_t, int64_t>(),
           py::arg("path"), py::arg("split"), py::arg("batch"), py::arg("seed"), py::arg("overrides"),
           py::arg("start_epoch") = 0, py::arg("start_step") = 0, py::arg("single_view") = false,
           py::arg("shard_begin") = 0, py::arg("shard_size") = 0, py::arg("prefetch") = 0)
      .def("next",
           [](ViewLoader& l) {
             pde::ViewBatch v;
             {
               py::gil_scoped_release release;
               v = l.next();
             }
             return view_dict(v);
           })
      .def_property_readonly("steps_per_epoch", &ViewLoader::steps_per_epoch)
      .def_property_readonly("equation", &ViewLoader::equation)
      .def_property_readonly("trajectories", &ViewLoader::trajectories);

  // ---- cells -----------------------------------------------------------------------------------
  m.def(
      "cells_read",
      [](const std::string& path, std::optional<bool> cells_as_rows, std::optional<bool> header,
         std::optional<bool> row_names, const std::string& annotations) {
        cells::LoadOptions o;
        o.cells_as_rows = cells_as_rows;
        o.header = header;
        o.row_names = row_names;
        o.annotations = annotations;
        cells::CellData d;
        {
          py::gil_scoped_release release;
          try {
            d = cells::load_cells(path, o);
          } catch (const std::runtime_error& e) {  // a malformed file is bad input: ValueError in Python
            throw std::invalid_argument(e.what());
          }
        }
        py::dict ann;
        for (auto& a : d.annotations) {
          if (a.numeric)
            ann[py::str(a.name)] = at::tensor(a.numbers, at::kDouble);
          else
            ann[py::str(a.name)] = a.values;
        }
        const int64_t rows = d.x.rows, cols = d.x.cols;
        return py::dict(py::arg("x") = owned_tensor(std::move(d.x.data), {rows, cols}, at::kDouble),
                        py::arg("cells") = d.cells, py::arg("features") = d.features, py::arg("annotations") = ann);
      },
      py::arg("path"), py::arg("cells_as_rows") = std::nullopt, py::arg("header") = std::nullopt,
      py::arg("row_names") = std::nullopt, py::arg("annotations") = "");
}

}  // namespace jess::python

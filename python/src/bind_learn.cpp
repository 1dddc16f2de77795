// jess._jess, learning half: every registered SSL criterion as a callable inside a Python autograd graph
// (the C++ loss records into the same autograd engine, since python3-torch and jess link one libtorch),
// RankMe and the probes on tensors, and jess checkpoints read and written.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/utils/pybind.h>
#include <torch/serialize.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.h"
#include "jess/core/config.h"
#include "jess/eval/probes.h"
#include "jess/eval/rankme.h"
#include "jess/pde/ssl.h"
#include "jess/ssl/loss.h"
#include "jess/train/checkpoint_file.h"
#include "jess/train/trainer.h"
#include "jess/core/version.h"

namespace py = pybind11;

namespace jess::python {
namespace {

// A registered criterion with its hyperparameters set by the same schema as the CLI's keys.
struct Criterion {
  std::unique_ptr<ssl::JointLoss> loss;
  std::string keys;  // the schema's description, for help()
};

Criterion make_criterion(const std::string& name, const std::vector<std::string>& overrides) {
  Criterion c;
  c.loss = ssl::make_loss(name);
  ConfigSchema schema;
  c.loss->describe(schema, "");
  schema.apply_overrides(overrides);
  c.loss->validate();
  c.keys = schema.describe();
  return c;
}

void check_embeddings(const at::Tensor& z, const char* what) {
  if (!z.defined() || z.dim() != 2) throw std::invalid_argument(std::string(what) + " must be a 2-D tensor (samples x dimensions)");
  if (!at::isFloatingType(z.scalar_type())) throw std::invalid_argument(std::string(what) + " must be a floating-point tensor");
}

// Rows of z as a contiguous float64 CPU block (RankMe's Gram matrix is accumulated in float64).
eval::Spectrum spectrum_of(const at::Tensor& z) {
  check_embeddings(z, "z");
  auto d = z.detach().to(at::kCPU, at::kDouble).contiguous();
  if (!at::isfinite(d).all().item<bool>()) throw std::invalid_argument("z holds NaN or infinite values");
  auto s = eval::spectrum_from_rows(d.data_ptr<double>(), d.size(0), d.size(1));
  s.dtype = z.scalar_type() == at::kDouble ? "float64" : "float32";
  return s;
}

void check_labelled(const at::Tensor& x, const at::Tensor& y, const char* xs, const char* ys) {
  check_embeddings(x, xs);
  if (!y.defined() || y.dim() != 1 || y.size(0) != x.size(0))
    throw std::invalid_argument(std::string(ys) + " must be a 1-D tensor with one label per row of " + xs);
}

at::Tensor class_labels(const at::Tensor& y, const char* what) {
  if (at::isFloatingType(y.scalar_type()) || y.scalar_type() == at::kBool)
    throw std::invalid_argument(std::string(what) + " must hold integer class indices");
  auto l = y.to(at::kCPU, at::kLong);
  if (l.numel() > 0 && l.min().item<int64_t>() < 0) throw std::invalid_argument(std::string(what) + " holds negative class indices");
  return l;
}

py::dict checkpoint_dict(const train::ResumeState& s) {
  py::dict d, model, extra;
  for (const auto& kv : s.model) model[py::str(kv.first)] = kv.second;
  for (const auto& kv : s.extra) extra[py::str(kv.first)] = kv.second;
  d["model"] = model;
  d["extra"] = extra;
  d["config"] = s.config;
  d["epoch"] = s.epoch;
  d["step"] = s.step;
  d["global_step"] = s.global_step;
  return d;
}

}  // namespace

void bind_learn(py::module_& m) {
  m.attr("__version__") = JESS_VERSION;

  // ---- ssl -------------------------------------------------------------------------------------
  m.def("loss_names", &ssl::loss_names);
  py::class_<Criterion>(m, "Criterion")
      .def(py::init(&make_criterion), py::arg("name"), py::arg("overrides"))
      .def_property_readonly("name", [](const Criterion& c) { return c.loss->name(); })
      .def_property_readonly("keys", [](const Criterion& c) { return c.keys; })
      .def(
          "__call__",
          [](const Criterion& c, const at::Tensor& z1, const at::Tensor& z2) {
            check_embeddings(z1, "z1");
            check_embeddings(z2, "z2");
            if (z1.sizes() != z2.sizes()) throw std::invalid_argument("z1 and z2 must have the same shape");
            if (z1.size(0) < 2) throw std::invalid_argument("the criteria need at least 2 samples per batch");
            ssl::LossTerms t;
            {
              py::gil_scoped_release release;
              t = (*c.loss)(z1, z2);
            }
            py::dict parts;
            for (const auto& p : t.parts) parts[py::str(p.first)] = p.second;
            return py::make_tuple(t.loss, parts);
          },
          py::arg("z1"), py::arg("z2"));

  // ---- eval ------------------------------------------------------------------------------------
  m.def("singular_values", [](const at::Tensor& z) {
    auto s = spectrum_of(z);
    return at::tensor(s.singular_values, at::kDouble);
  });
  m.def("rankme", [](const at::Tensor& z, double eps) { return eval::rankme(spectrum_of(z).singular_values, eps); },
        py::arg("z"), py::arg("eps") = 1e-7);
  m.def("numerical_rank", [](const at::Tensor& z, double rtol) { return eval::numerical_rank(spectrum_of(z), rtol); },
        py::arg("z"), py::arg("rtol") = 0.0);
  m.def(
      "knn",
      [](const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x, const at::Tensor& test_y,
         const std::vector<int64_t>& ks, double temperature) {
        check_labelled(train_x, train_y, "train_x", "train_y");
        check_labelled(test_x, test_y, "test_x", "test_y");
        if (train_x.size(1) != test_x.size(1)) throw std::invalid_argument("train_x and test_x have different widths");
        for (int64_t k : ks)
          if (k < 1 || k > train_x.size(0)) throw std::invalid_argument("k must be in [1, training rows]");
        if (!(temperature > 0)) throw std::invalid_argument("temperature must be positive");
        const auto a = train_x.detach().to(at::kCPU, at::kFloat), b = test_x.detach().to(at::kCPU, at::kFloat);
        const auto ya = class_labels(train_y, "train_y"), yb = class_labels(test_y, "test_y");
        std::vector<eval::KnnResult> r;
        {
          py::gil_scoped_release release;
          r = eval::knn_probe(a, ya, b, yb, ks, temperature);
        }
        py::dict out;
        for (const auto& k : r) out[py::int_(k.k)] = py::dict(py::arg("top1") = k.top1, py::arg("top5") = k.top5);
        return out;
      },
      py::arg("train_x"), py::arg("train_y"), py::arg("test_x"), py::arg("test_y"), py::arg("ks"),
      py::arg("temperature") = 0.07);
  m.def(
      "classifier_probe",
      [](const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x, const at::Tensor& test_y,
         int64_t hidden, std::vector<double> weight_decays, int64_t max_iterations, int64_t epochs, uint64_t seed) {
        check_labelled(train_x, train_y, "train_x", "train_y");
        check_labelled(test_x, test_y, "test_x", "test_y");
        if (train_x.size(1) != test_x.size(1)) throw std::invalid_argument("train_x and test_x have different widths");
        if (hidden < 0 || max_iterations < 1 || epochs < 1) throw std::invalid_argument("hidden >= 0, iterations and epochs >= 1");
        if (train_x.size(0) < 2 || test_x.size(0) < 1)
          throw std::invalid_argument("the probe needs at least 2 training rows and 1 test row");
        eval::ClassifierOptions o;
        o.hidden = hidden;
        if (!weight_decays.empty()) o.weight_decays = std::move(weight_decays);
        o.max_iterations = max_iterations;
        o.epochs = epochs;
        o.seed = seed;
        const auto a = train_x.detach().to(at::kCPU, at::kFloat), b = test_x.detach().to(at::kCPU, at::kFloat);
        const auto ya = class_labels(train_y, "train_y"), yb = class_labels(test_y, "test_y");
        eval::ClassifierResult r;
        {
          py::gil_scoped_release release;
          c10::AutoGradMode grad(true);  // the probe trains with autograd even under torch.no_grad()
          r = eval::classification_probe(a, ya, b, yb, o);
        }
        return py::dict(py::arg("top1") = r.top1, py::arg("top5") = r.top5, py::arg("weight_decay") = r.weight_decay,
                        py::arg("validation_top1") = r.validation_top1, py::arg("scores") = r.test_scores);
      },
      py::arg("train_x"), py::arg("train_y"), py::arg("test_x"), py::arg("test_y"), py::arg("hidden") = 0,
      py::arg("weight_decays") = std::vector<double>{}, py::arg("max_iterations") = 300, py::arg("epochs") = 100,
      py::arg("seed") = 0);
  m.def(
      "ridge_probe",
      [](const at::Tensor& train_x, const at::Tensor& train_y, const at::Tensor& test_x, const at::Tensor& test_y,
         std::vector<double> alphas, int64_t folds, uint64_t seed) {
        check_embeddings(train_x, "train_x");
        check_embeddings(test_x, "test_x");
        if (train_y.size(0) != train_x.size(0) || test_y.size(0) != test_x.size(0))
          throw std::invalid_argument("one target row per feature row");
        if (folds < 2 || folds > train_x.size(0)) throw std::invalid_argument("folds must be in [2, training rows]");
        eval::RidgeOptions o;
        if (!alphas.empty()) o.alphas = std::move(alphas);
        o.folds = folds;
        o.seed = seed;
        eval::RidgeResult r;
        {
          py::gil_scoped_release release;
          r = eval::ridge_probe(train_x.detach().to(at::kCPU, at::kDouble), train_y.detach().to(at::kCPU, at::kDouble),
                                test_x.detach().to(at::kCPU, at::kDouble), test_y.detach().to(at::kCPU, at::kDouble), o);
        }
        return py::dict(py::arg("weight") = r.weight, py::arg("bias") = r.bias, py::arg("alpha") = r.alpha,
                        py::arg("mse") = r.test.mse, py::arg("nmse") = r.test.nmse,
                        py::arg("relative_error") = r.test.relative_error, py::arg("r2") = r.test.r2);
      },
      py::arg("train_x"), py::arg("train_y"), py::arg("test_x"), py::arg("test_y"),
      py::arg("alphas") = std::vector<double>{}, py::arg("folds") = 5, py::arg("seed") = 0);

  // ---- checkpoints -----------------------------------------------------------------------------
  m.def("read_checkpoint", [](const std::string& path) {
    train::ResumeState s;
    {
      py::gil_scoped_release release;
      s = train::parse_checkpoint(train::read_checkpoint_bytes(path), path);
    }
    return checkpoint_dict(s);
  });
  // A checkpoint as jess writes them (atomically, with the format version) from Python tensors: the
  // model's state dict, the stored configuration and the extra tensors (input statistics).
  m.def(
      "write_checkpoint",
      [](const std::string& path, const std::map<std::string, at::Tensor>& model, const std::string& config,
         const std::map<std::string, at::Tensor>& extra, int64_t epoch, int64_t step, int64_t global_step) {
        auto dict = [](const std::map<std::string, at::Tensor>& m) {
          c10::impl::GenericDict d(c10::StringType::get(), c10::TensorType::get());
          for (const auto& kv : m) d.insert(kv.first, kv.second.detach().to(at::kCPU).contiguous());
          return d;
        };
        c10::impl::GenericDict d(c10::StringType::get(), c10::AnyType::get());
        d.insert("model", dict(model));
        d.insert("epoch", epoch);
        d.insert("step", step);
        d.insert("global_step", global_step);
        d.insert("config", config);
        d.insert("jess_version", std::string(JESS_VERSION));
        d.insert("format", train::kCheckpointFormat);
        d.insert("extra", dict(extra));
        std::string failure;
        {
          py::gil_scoped_release release;
          try {
            train::write_file_atomic(path, torch::pickle_save(c10::IValue(d)));
          } catch (const std::runtime_error& e) {  // the file system's refusal: OSError, as Python's own writes
            failure = e.what();
          }
        }
        if (!failure.empty()) {
          PyErr_SetString(PyExc_OSError, failure.c_str());
          throw py::error_already_set();
        }
      },
      py::arg("path"), py::arg("model"), py::arg("config"), py::arg("extra"), py::arg("epoch") = 0,
      py::arg("step") = 0, py::arg("global_step") = 0);
  // A PDE pretraining configuration as stored in a checkpoint, resolved with today's defaults: what the
  // Python encoder needs to rebuild the network.
  m.def("pde_pretrain_config", &stored_config<pde::PretrainOptions>);
}

}  // namespace jess::python

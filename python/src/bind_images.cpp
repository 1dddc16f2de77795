// jess._jess, images: the OpenGL (OSMesa) renderer of 3DIEBench-style scenes and its datasets, and the
// frozen features of image checkpoints (`jess train`), which jess.models' Python ResNets are checked
// against.
#include <ATen/ATen.h>
#include <torch/csrc/utils/pybind.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings.h"
#include "jess/core/config.h"
#include "jess/render/catalogue.h"
#include "jess/render/dataset.h"
#include "jess/render/renderer.h"
#include "jess/vision/ssl.h"

namespace py = pybind11;

namespace jess::python {
namespace {

py::dict summary(const render::RenderSummary& s) {
  return py::dict(py::arg("out") = s.out, py::arg("objects") = s.objects, py::arg("images") = s.images,
                  py::arg("seconds") = s.seconds, py::arg("gl") = s.gl);
}

// One renderer with its scene options: objects are loaded as the dataset commands load them (the same
// class, instance and seed give the same mesh), views described by the 14 recorded factors.
class SceneRenderer {
 public:
  SceneRenderer(int64_t size, int64_t samples, const std::string& objects, const std::string& backgrounds, uint64_t seed)
      : seed_(seed) {
    if (size < 8 || size > 4096) throw std::invalid_argument("size must be in [8, 4096] pixels");
    if (samples < 1 || samples > 16) throw std::invalid_argument("samples must be in [1, 16]");
    source_ = render::list_objects(objects, "");
    backgrounds_ = render::parse_backgrounds(backgrounds, int(size), seed);
    renderer_ = std::make_unique<render::Renderer>(render::RenderOptions{int(size), int(samples)});
    size_ = size;
  }
  at::Tensor image(const std::string& cls, int64_t instance, const std::vector<double>& factors) {
    if (factors.size() != size_t(render::kFactorCount))
      throw std::invalid_argument("a view has " + std::to_string(render::kFactorCount) + " factors");
    int64_t c = -1;
    for (size_t k = 0; k < source_.classes.size(); ++k)
      if (source_.classes[k] == cls) c = int64_t(k);
    if (c < 0) throw std::invalid_argument("unknown class '" + cls + "' (jess.render.classes() lists them)");
    if (instance < 0) throw std::invalid_argument("instance must be non-negative");
    if (c != object_class_ || instance != object_instance_) {
      renderer_->set_object(render::load_object(source_, c, instance, seed_));
      object_class_ = c, object_instance_ = instance;
    }
    const auto f = render::ViewFactors::from_array(factors.data());
    if (f.background >= double(backgrounds_.size()))
      throw std::invalid_argument("background " + std::to_string(int64_t(f.background)) + " is not in the list (" +
                                  std::to_string(backgrounds_.size()) + " backgrounds)");
    if (f.background >= 0 && backgrounds_[size_t(f.background)].has_image)
      renderer_->set_background_image(backgrounds_[size_t(f.background)].image);
    std::vector<uint8_t> rgb(size_t(size_ * size_ * 3));
    renderer_->render_into(render::scene_for(f, backgrounds_), rgb.data());
    return owned_tensor(std::move(rgb), {size_, size_, 3}, at::kByte);
  }
  std::string gl() const { return renderer_->gl_description(); }

 private:
  render::ObjectSource source_;
  std::vector<render::Background> backgrounds_;
  std::unique_ptr<render::Renderer> renderer_;
  int64_t size_ = 0, object_class_ = -1, object_instance_ = -1;
  uint64_t seed_ = 0;
};

}  // namespace

void bind_images(py::module_& m) {
  // ---- render ----------------------------------------------------------------------------------
  m.def("render_classes", [] { return render::procedural_classes(); });
  m.def("render_factor_names", [] { return render::factor_names(); });
  py::class_<SceneRenderer>(m, "SceneRenderer")
      .def(py::init<int64_t, int64_t, const std::string&, const std::string&, uint64_t>(), py::arg("size"),
           py::arg("samples"), py::arg("objects"), py::arg("backgrounds"), py::arg("seed"))
      .def("image", &SceneRenderer::image, py::arg("cls"), py::arg("instance"), py::arg("factors"),
           py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("gl", &SceneRenderer::gl);
  m.def(
      "render_dataset",
      [](const std::string& out, const std::vector<std::string>& overrides) {
        render::RenderDatasetOptions o;
        ConfigSchema s;
        o.describe(s);
        s.apply_overrides(overrides);
        o.validate();
        render::RenderSummary r;
        {
          py::gil_scoped_release release;
          r = render::render_dataset(o, out);
        }
        return summary(r);
      },
      py::arg("out"), py::arg("overrides"));
  m.def(
      "render_factor_sets",
      [](const std::string& out, const std::vector<std::string>& overrides) {
        render::FactorSetOptions o;
        ConfigSchema s;
        o.describe(s);
        s.apply_overrides(overrides);
        render::RenderSummary r;
        {
          py::gil_scoped_release release;
          r = render::render_factor_sets(o, out);
        }
        return summary(r);
      },
      py::arg("out"), py::arg("overrides"));
  m.def("render_read_index", [](const std::string& path) {
    render::PackedDataset d;
    {
      py::gil_scoped_release release;
      d = render::read_packed_index(path);
    }
    return py::dict(py::arg("classes") = d.classes, py::arg("objects") = d.objects,
                    py::arg("labels") = at::tensor(d.labels, at::kLong), py::arg("split") = at::tensor(d.split, at::kLong),
                    py::arg("views") = d.views, py::arg("size") = d.size);
  });
  m.def("render_read_object", [](const std::string& path, int64_t object) {
    std::vector<uint8_t> images;
    std::vector<double> factors;
    int64_t views = 0, size = 0;
    {
      py::gil_scoped_release release;
      const auto index = render::read_packed_index(path);
      if (object < 0 || object >= int64_t(index.objects.size()))
        throw std::invalid_argument("object " + std::to_string(object) + " is not in the file (" +
                                    std::to_string(index.objects.size()) + " objects)");
      views = index.views, size = index.size;
      images = render::read_packed_images(path, object);
      factors = render::read_packed_factors(path, object);
    }
    return py::make_tuple(owned_tensor(std::move(images), {views, size, size, 3}, at::kByte),
                          owned_tensor(std::move(factors), {views, render::kFactorCount}, at::kDouble));
  });

  // ---- image checkpoints -------------------------------------------------------------------------
  m.def("vision_config", &stored_config<vision::VisionSslOptions>);
  m.def(
      "vision_features",
      [](const std::string& checkpoint, const at::Tensor& images) {
        if (!images.defined() || images.dim() != 4) throw std::invalid_argument("images must be a (B, C, H, W) tensor");
        py::gil_scoped_release release;
        auto e = vision::load_vision_encoder(checkpoint, "cpu");
        if (images.size(1) != e.channels)
          throw std::invalid_argument("the model reads " + std::to_string(e.channels) + "-channel images");
        return e.features(images.to(at::kFloat));
      },
      py::arg("checkpoint"), py::arg("images"));
}

}  // namespace jess::python

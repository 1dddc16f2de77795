#pragma once
// The Python extension module jess._jess (pybind11 over the static libraries), split in three translation
// units so they compile in parallel: learning (criteria, evaluation, checkpoints), data (PDE solvers,
// symmetry views, single-cell readers) and images (renderer, image checkpoints). The Python package (python/jess/*.py) adds the docstrings,
// keyword arguments and type hints users see.
#include <pybind11/pybind11.h>

#include <string>
#include <vector>

namespace jess::python {
void bind_learn(pybind11::module_& m);
void bind_data(pybind11::module_& m);
void bind_images(pybind11::module_& m);
}  // namespace jess::python

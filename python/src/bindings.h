#pragma once
// The Python extension module jess._jess (pybind11 over the static libraries), split in three translation
// units so they compile in parallel: learning (criteria, evaluation, checkpoints), data (PDE solvers,
// symmetry views, single-cell readers) and images (renderer, image checkpoints). The Python package (python/jess/*.py) adds the docstrings,
// keyword arguments and type hints users see.
#include <ATen/ATen.h>
#include <pybind11/pybind11.h>

#include "jess/core/config.h"

#include <memory>
#include <string>
#include <vector>

namespace jess::python {

// Bytes handed to Python without a copy: the tensor owns the vector (freed with the last tensor).
template <typename T>
at::Tensor owned_tensor(std::vector<T>&& v, std::vector<int64_t> sizes, at::ScalarType type) {
  auto owner = std::make_shared<std::vector<T>>(std::move(v));
  if (owner->empty()) return at::zeros(sizes, type);
  return at::from_blob(owner->data(), sizes, [owner](void*) mutable { owner.reset(); }, type);
}

// A run's stored configuration read into Options' schema (keys added since take their defaults), as
// {key: value text}: what the Python model classes rebuild a network from.
template <typename Options>
pybind11::dict stored_config(const std::string& stored_yaml, const std::string& origin) {
  Options o;
  ConfigSchema s;
  o.describe(s);
  s.load_stored_yaml(stored_yaml, origin + " (stored configuration)");
  pybind11::dict d;
  for (const auto& k : s.keys()) d[pybind11::str(k)] = s.value_string(k);
  return d;
}

void bind_learn(pybind11::module_& m);
void bind_data(pybind11::module_& m);
void bind_images(pybind11::module_& m);
}  // namespace jess::python

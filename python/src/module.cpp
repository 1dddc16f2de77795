// jess._jess: the compiled half of the Python package. C++ exceptions arrive in Python with jess's
// messages: bad input (std::invalid_argument, jess's ConfigError) as ValueError, unreadable files
// (jess's H5Error) as OSError, everything else as RuntimeError; torch's own errors without their C++
// backtrace.
#include <c10/util/Exception.h>

#include "bindings.h"
#include "jess/core/config.h"
#include "jess/core/hdf5_file.h"
#include "jess/core/runtime.h"

PYBIND11_MODULE(_jess, m) {
  m.doc() = "jess's C++ library (use the jess package: jess.pde, jess.ssl, jess.eval, jess.models, jess.cells, jess.render)";
  pybind11::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const jess::ConfigError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const jess::H5Error& e) {
      PyErr_SetString(PyExc_OSError, e.what());
    } catch (const c10::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what_without_backtrace());
    }
  });
  m.def("_tune_allocator", &jess::tune_allocator,
        "Raise glibc's mmap/trim thresholds as the jess CLI does (run by `import jess`; JESS_MALLOC_TUNING=0 "
        "keeps glibc's defaults). Returns what was set.");
  jess::python::bind_learn(m);
  jess::python::bind_data(m);
  jess::python::bind_images(m);
}

#include "jess/pde/etdrk4_cpu.h"

#include <ATen/Parallel.h>
#include <fftw3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace jess::pde::detail {
namespace {

// Trajectories integrated together by one thread. 8 rows of 129 modes keep the ~16 working arrays
// (~270 KB) in L2 and give FFTW a batch to vectorise over.
constexpr int64_t kChunk = 8;

std::mutex& planner_mutex() {  // FFTW's planner is not thread-safe; execution is.
  static std::mutex m;
  return m;
}

struct Buffer {  // fftw_malloc'd so every buffer has the alignment the plans were made for
  double* p = nullptr;
  explicit Buffer(size_t doubles) : p(static_cast<double*>(fftw_malloc(sizeof(double) * std::max<size_t>(doubles, 2)))) {
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, sizeof(double) * doubles);
  }
  ~Buffer() { fftw_free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
};

struct Plans {
  fftw_plan r2c = nullptr, c2r = nullptr;
  Plans(int n, int nk) {
    std::lock_guard<std::mutex> lock(planner_mutex());
    Buffer real(size_t(kChunk * n)), spec(size_t(2 * kChunk * nk));
    // FFTW_ESTIMATE: plans chosen without timing, so results are bit-reproducible from run to run.
    r2c = fftw_plan_many_dft_r2c(1, &n, int(kChunk), real.p, nullptr, 1, n,
                                 reinterpret_cast<fftw_complex*>(spec.p), nullptr, 1, nk, FFTW_ESTIMATE);
    c2r = fftw_plan_many_dft_c2r(1, &n, int(kChunk), reinterpret_cast<fftw_complex*>(spec.p), nullptr, 1, nk,
                                 real.p, nullptr, 1, n, FFTW_ESTIMATE);
    if (!r2c || !c2r) throw std::runtime_error("FFTW could not plan a transform of size " + std::to_string(n));
  }
  ~Plans() {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(r2c);
    fftw_destroy_plan(c2r);
  }
};

// Interleaved complex arithmetic written out, so the compiler neither calls __muldc3 nor needs
// -ffast-math.
struct C {
  double re, im;
};
inline C mul(const double* a, const double* b) { return {a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]}; }
inline C mulv(const double* a, double br, double bi) { return {a[0] * br - a[1] * bi, a[0] * bi + a[1] * br}; }

}  // namespace

Etdrk4Failure etdrk4_cpu(const Etdrk4CpuProblem& p) {
  const int64_t B = p.batch, n = p.nx, nk = n / 2 + 1;
  const int64_t M = kChunk * nk;  // complex entries per chunk
  const int64_t chunks = (B + kChunk - 1) / kChunk;
  const int64_t first_kept = p.nt_total - p.nt_keep;
  Plans plans{int(n), int(nk)};

  std::atomic<int64_t> failed_row{-1};
  std::atomic<int64_t> failed_frame{-1};
  std::atomic<bool> failed_nonfinite{false};
  std::atomic<bool> stop{false};
  std::mutex fail_mutex;

  const double inv_n = 1.0 / double(n), inv_n2 = inv_n * inv_n;

  // at::parallel_for runs on libtorch's own OpenMP pool: a second OpenMP runtime (clang's libomp) in
  // the same process would spin against it and oversubscribe the cores.
  at::parallel_for(0, chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
    // Per-thread working set: state, stage values, their nonlinear terms, coefficients, scratch.
    Buffer v(2 * M), a(2 * M), b(2 * M), c(2 * M), Nv(2 * M), Na(2 * M), Nb(2 * M), Nc(2 * M), tmp(2 * M);
    Buffer E(2 * M), E2(2 * M), Q(2 * M), f1(2 * M), f2(2 * M), f3(2 * M), g(2 * M);
    Buffer real(kChunk * n);
    std::vector<double> limit(kChunk, 0.0);

    auto nonlinear = [&](const double* in, double* out) {
      // c2r destroys its input, so transform a copy.
      std::memcpy(tmp.p, in, sizeof(double) * 2 * M);
      fftw_execute_dft_c2r(plans.c2r, reinterpret_cast<fftw_complex*>(tmp.p), real.p);
      double* r = real.p;
      for (int64_t i = 0; i < kChunk * n; ++i) r[i] *= r[i];
      fftw_execute_dft_r2c(plans.r2c, real.p, reinterpret_cast<fftw_complex*>(out));
      // g already carries 1/n^2 for the two unnormalised transforms.
      for (int64_t i = 0; i < M; ++i) {
        C z = mul(out + 2 * i, g.p + 2 * i);
        out[2 * i] = z.re;
        out[2 * i + 1] = z.im;
      }
    };

    auto load = [&](const std::complex<double>* src, Buffer& dst, int64_t row0, int64_t rows, double scale) {
      std::memset(dst.p, 0, sizeof(double) * 2 * M);
      const double* s = reinterpret_cast<const double*>(src) + 2 * row0 * nk;
      for (int64_t i = 0; i < 2 * rows * nk; ++i) dst.p[i] = s[i] * scale;
    };

    for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
      if (stop.load(std::memory_order_relaxed)) continue;
      const int64_t row0 = chunk * kChunk;
      const int64_t rows = std::min(kChunk, B - row0);
      // Padding rows of a partial chunk stay zero (all-zero coefficients keep them zero), so every
      // chunk runs the same plan and a trajectory's bits do not depend on its batch neighbours.
      load(p.v0, v, row0, rows, 1.0);
      load(p.E, E, row0, rows, 1.0);
      load(p.E2, E2, row0, rows, 1.0);
      load(p.Q, Q, row0, rows, 1.0);
      load(p.f1, f1, row0, rows, 1.0);
      load(p.f2, f2, row0, rows, 1.0);
      load(p.f3, f3, row0, rows, 1.0);
      load(p.g, g, row0, rows, inv_n2);
      for (int64_t r = 0; r < kChunk; ++r) limit[r] = r < rows ? p.blowup_limit[row0 + r] : 0.0;

      auto emit = [&](int64_t frame) {
        std::memcpy(tmp.p, v.p, sizeof(double) * 2 * M);
        fftw_execute_dft_c2r(plans.c2r, reinterpret_cast<fftw_complex*>(tmp.p), real.p);
        for (int64_t r = 0; r < rows; ++r) {
          double* dst = p.out + ((row0 + r) * p.nt_keep + frame) * n;
          const double* src = real.p + r * n;
          for (int64_t j = 0; j < n; ++j) dst[j] = src[j] * inv_n;
        }
      };
      // max|u| <= (|v_0| + 2 sum_k |v_k|) / n: a cheap bound checked at every output time.
      auto check = [&](int64_t interval) -> bool {
        for (int64_t r = 0; r < rows; ++r) {
          const double* s = v.p + 2 * r * nk;
          double bound = std::hypot(s[0], s[1]);
          for (int64_t k = 1; k < nk; ++k) bound += 2 * std::hypot(s[2 * k], s[2 * k + 1]);
          bound *= inv_n;
          if (!std::isfinite(bound) || bound > limit[r]) {
            std::lock_guard<std::mutex> lock(fail_mutex);
            if (failed_row.load() < 0 || row0 + r < failed_row.load()) {
              failed_row = row0 + r;
              failed_frame = interval;
              failed_nonfinite = !std::isfinite(bound);
            }
            stop = true;
            return false;
          }
        }
        return true;
      };

      if (first_kept == 0) emit(0);
      bool ok = true;
      for (int64_t interval = 1; interval < p.nt_total && ok; ++interval) {
        for (int64_t s = 0; s < p.substeps; ++s) {
          // ETDRK4 (Cox-Matthews) in the Kassam-Trefethen form:
          //   a = E2 v + Q N(v);  b = E2 v + Q N(a);  c = E2 a + Q (2 N(b) - N(v))
          //   v <- E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c)
          nonlinear(v.p, Nv.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E2.p + 2 * i, v.p + 2 * i), y = mul(Q.p + 2 * i, Nv.p + 2 * i);
            a.p[2 * i] = x.re + y.re;
            a.p[2 * i + 1] = x.im + y.im;
          }
          nonlinear(a.p, Na.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E2.p + 2 * i, v.p + 2 * i), y = mul(Q.p + 2 * i, Na.p + 2 * i);
            b.p[2 * i] = x.re + y.re;
            b.p[2 * i + 1] = x.im + y.im;
          }
          nonlinear(b.p, Nb.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E2.p + 2 * i, a.p + 2 * i);
            C y = mulv(Q.p + 2 * i, 2 * Nb.p[2 * i] - Nv.p[2 * i], 2 * Nb.p[2 * i + 1] - Nv.p[2 * i + 1]);
            c.p[2 * i] = x.re + y.re;
            c.p[2 * i + 1] = x.im + y.im;
          }
          nonlinear(c.p, Nc.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E.p + 2 * i, v.p + 2 * i);
            C y1 = mul(f1.p + 2 * i, Nv.p + 2 * i);
            C y2 = mulv(f2.p + 2 * i, 2 * (Na.p[2 * i] + Nb.p[2 * i]), 2 * (Na.p[2 * i + 1] + Nb.p[2 * i + 1]));
            C y3 = mul(f3.p + 2 * i, Nc.p + 2 * i);
            v.p[2 * i] = x.re + y1.re + y2.re + y3.re;
            v.p[2 * i + 1] = x.im + y1.im + y2.im + y3.im;
          }
        }
        ok = check(interval) && !stop.load(std::memory_order_relaxed);
        if (ok && interval >= first_kept) emit(interval - first_kept);
      }
      if (ok && p.progress) p.progress(rows);
    }
  });
  return {failed_row.load(), failed_frame.load(), failed_nonfinite.load()};
}

}  // namespace jess::pde::detail

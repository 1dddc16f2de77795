#include "jess/pde/kernels_cpu.h"

#include <fftw3.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "jess/core/parallel.h"
#include "jess/core/runtime.h"

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
    const unsigned flags = std::getenv("JESS_FFTW_MEASURE") ? FFTW_MEASURE : FFTW_ESTIMATE;
    r2c = fftw_plan_many_dft_r2c(1, &n, int(kChunk), real.p, nullptr, 1, n,
                                 reinterpret_cast<fftw_complex*>(spec.p), nullptr, 1, nk, flags);
    c2r = fftw_plan_many_dft_c2r(1, &n, int(kChunk), reinterpret_cast<fftw_complex*>(spec.p), nullptr, 1, nk,
                                 real.p, nullptr, 1, n, flags);
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

  // One worker per thread, each with its own working set, pulling chunks until none are left.
  parallel_workers(chunks, jess::runtime_info().threads, [&](int, const std::function<int64_t()>& next_chunk) {
    // Per-thread working set: state, stage values, their nonlinear terms, coefficients, scratch.
    Buffer v(2 * M), a(2 * M), e2v(2 * M), Fv(2 * M), Fa(2 * M), Fb(2 * M), Fc(2 * M), tmp(2 * M);
    Buffer E(2 * M), E2(2 * M), Qg(2 * M), f1g(2 * M), f2g(2 * M), f3g(2 * M), g(2 * M);
    Buffer real(kChunk * n);
    std::vector<double> limit(kChunk, 0.0);

    // F = rfft(irfft(w)^2) for w in `tmp` (destroyed: c2r overwrites its input). The nonlinear term is
    // N(w) = g F with g = -ik/2 * dealias / n^2; g is folded into the coefficients below.
    auto square_transform = [&](double* out) {
      fftw_execute_dft_c2r(plans.c2r, reinterpret_cast<fftw_complex*>(tmp.p), real.p);
      double* r = real.p;
      for (int64_t i = 0; i < kChunk * n; ++i) r[i] *= r[i];
      fftw_execute_dft_r2c(plans.r2c, real.p, reinterpret_cast<fftw_complex*>(out));
    };

    auto load = [&](const std::complex<double>* src, Buffer& dst, int64_t row0, int64_t rows, double scale) {
      std::memset(dst.p, 0, sizeof(double) * 2 * M);
      const double* s = reinterpret_cast<const double*>(src) + 2 * row0 * nk;
      for (int64_t i = 0; i < 2 * rows * nk; ++i) dst.p[i] = s[i] * scale;
    };
    auto fold_g = [&](Buffer& coef) {  // coef <- coef * g
      for (int64_t i = 0; i < M; ++i) {
        C z = mul(coef.p + 2 * i, g.p + 2 * i);
        coef.p[2 * i] = z.re;
        coef.p[2 * i + 1] = z.im;
      }
    };

    for (int64_t chunk = next_chunk(); chunk >= 0; chunk = next_chunk()) {
      if (stop.load(std::memory_order_relaxed)) continue;
      const int64_t row0 = chunk * kChunk;
      const int64_t rows = std::min(kChunk, B - row0);
      // Padding rows of a partial chunk stay zero (all-zero coefficients keep them zero), so every
      // chunk runs the same plan and a trajectory's bits do not depend on its batch neighbours.
      load(p.v0, v, row0, rows, 1.0);
      load(p.E, E, row0, rows, 1.0);
      load(p.E2, E2, row0, rows, 1.0);
      load(p.g, g, row0, rows, inv_n2);
      load(p.Q, Qg, row0, rows, 1.0);
      load(p.f1, f1g, row0, rows, 1.0);
      load(p.f2, f2g, row0, rows, 2.0);  // the scheme uses 2 f2 (N(a) + N(b))
      load(p.f3, f3g, row0, rows, 1.0);
      fold_g(Qg);
      fold_g(f1g);
      fold_g(f2g);
      fold_g(f3g);
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
      // max|u| <= (|v_0| + 2 sum_k |v_k|) / n: a bound checked at every output time.
      auto check = [&](int64_t interval) -> bool {
        for (int64_t r = 0; r < rows; ++r) {
          const double* s = v.p + 2 * r * nk;
          // |re| + |im| >= |z|: a looser but cheaper bound than hypot.
          double bound = std::abs(s[0]) + std::abs(s[1]);
          for (int64_t k = 1; k < nk; ++k) bound += 2 * (std::abs(s[2 * k]) + std::abs(s[2 * k + 1]));
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
      std::memcpy(tmp.p, v.p, sizeof(double) * 2 * M);
      for (int64_t interval = 1; interval < p.nt_total && ok; ++interval) {
        for (int64_t s = 0; s < p.substeps; ++s) {
          // ETDRK4 (Cox-Matthews) in the Kassam-Trefethen form, with N(w) = g F(w):
          //   a = E2 v + Q N(v);  b = E2 v + Q N(a);  c = E2 a + Q (2 N(b) - N(v))
          //   v <- E v + f1 N(v) + 2 f2 (N(a) + N(b)) + f3 N(c)
          // Each stage value is written straight into the transform's scratch buffer.
          square_transform(Fv.p);  // tmp held v
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E2.p + 2 * i, v.p + 2 * i), y = mul(Qg.p + 2 * i, Fv.p + 2 * i);
            e2v.p[2 * i] = x.re;
            e2v.p[2 * i + 1] = x.im;
            a.p[2 * i] = tmp.p[2 * i] = x.re + y.re;
            a.p[2 * i + 1] = tmp.p[2 * i + 1] = x.im + y.im;
          }
          square_transform(Fa.p);
          for (int64_t i = 0; i < M; ++i) {
            C y = mul(Qg.p + 2 * i, Fa.p + 2 * i);
            tmp.p[2 * i] = e2v.p[2 * i] + y.re;
            tmp.p[2 * i + 1] = e2v.p[2 * i + 1] + y.im;
          }
          square_transform(Fb.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E2.p + 2 * i, a.p + 2 * i);
            C y = mulv(Qg.p + 2 * i, 2 * Fb.p[2 * i] - Fv.p[2 * i], 2 * Fb.p[2 * i + 1] - Fv.p[2 * i + 1]);
            tmp.p[2 * i] = x.re + y.re;
            tmp.p[2 * i + 1] = x.im + y.im;
          }
          square_transform(Fc.p);
          for (int64_t i = 0; i < M; ++i) {
            C x = mul(E.p + 2 * i, v.p + 2 * i);
            C y1 = mul(f1g.p + 2 * i, Fv.p + 2 * i);
            C y2 = mulv(f2g.p + 2 * i, Fa.p[2 * i] + Fb.p[2 * i], Fa.p[2 * i + 1] + Fb.p[2 * i + 1]);
            C y3 = mul(f3g.p + 2 * i, Fc.p + 2 * i);
            v.p[2 * i] = tmp.p[2 * i] = x.re + y1.re + y2.re + y3.re;
            v.p[2 * i + 1] = tmp.p[2 * i + 1] = x.im + y1.im + y2.im + y3.im;
          }
        }
        ok = check(interval) && !stop.load(std::memory_order_relaxed);
        if (ok && interval >= first_kept) {
          emit(interval - first_kept);
          std::memcpy(tmp.p, v.p, sizeof(double) * 2 * M);
        }
      }
      if (ok && p.progress) p.progress(rows);
    }
  });
  return {failed_row.load(), failed_frame.load(), failed_nonfinite.load()};
}

}  // namespace jess::pde::detail

namespace jess::pde::detail {

void cole_hopf_cpu(const ColeHopfCpuProblem& p) {
  const int64_t n = p.n, nk = n / 2 + 1, nx = p.nx, nkx = nx / 2 + 1, stride = n / nx;
  int ni = int(n), nxi = int(nx);
  fftw_plan pair_c2r, fine_c2r, fine_r2c, coarse_r2c;
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    Buffer spec(2 * 2 * nk), real(2 * n), cspec(2 * nkx), creal(nx);
    // psi and psi_x from one call: two transforms per plan.
    pair_c2r = fftw_plan_many_dft_c2r(1, &ni, 2, reinterpret_cast<fftw_complex*>(spec.p), nullptr, 1, int(nk), real.p,
                                      nullptr, 1, ni, FFTW_ESTIMATE);
    fine_c2r = fftw_plan_dft_c2r_1d(ni, reinterpret_cast<fftw_complex*>(spec.p), real.p, FFTW_ESTIMATE);
    fine_r2c = fftw_plan_dft_r2c_1d(ni, real.p, reinterpret_cast<fftw_complex*>(spec.p), FFTW_ESTIMATE);
    coarse_r2c = fftw_plan_dft_r2c_1d(nxi, creal.p, reinterpret_cast<fftw_complex*>(cspec.p), FFTW_ESTIMATE);
    if (!pair_c2r || !fine_c2r || !fine_r2c || !coarse_r2c)
      throw std::runtime_error("FFTW could not plan transforms of size " + std::to_string(n));
  }
  parallel_workers(p.batch, jess::runtime_info().threads, [&](int, const std::function<int64_t()>& next) {
    Buffer spec(2 * 2 * nk), real(2 * n), cur(2 * nk), step(2 * nk), cspec(2 * nkx), creal(nx);
    std::vector<double> k(static_cast<size_t>(nk));
    for (int64_t b = next(); b >= 0; b = next()) {
      const double nu = p.nu[b], L = p.L[b];
      for (int64_t j = 0; j < nk; ++j) k[size_t(j)] = 2 * M_PI * double(j) / L;
      // Potential: phi0_hat = u0_hat / (i k) for 0 < k < nx/2 (the mean c is handled by the boost;
      // the Nyquist mode of u0 has no antiderivative), zero-padded to n points: exact.
      std::memcpy(creal.p, p.u0 + b * nx, sizeof(double) * size_t(nx));
      fftw_execute_dft_r2c(coarse_r2c, creal.p, reinterpret_cast<fftw_complex*>(cspec.p));
      const double c = cspec.p[0] / double(nx);
      std::memset(spec.p, 0, sizeof(double) * 2 * nk);
      for (int64_t j = 1; j < nx / 2; ++j) {  // u_hat / (i k) = -i u_hat / k; 1/nx normalises
        spec.p[2 * j] = cspec.p[2 * j + 1] / (k[size_t(j)] * double(nx));
        spec.p[2 * j + 1] = -cspec.p[2 * j] / (k[size_t(j)] * double(nx));
      }
      fftw_execute_dft_c2r(fine_c2r, reinterpret_cast<fftw_complex*>(spec.p), real.p);  // phi0 on n points
      double phimin = real.p[0];
      for (int64_t j = 1; j < n; ++j) phimin = std::min(phimin, real.p[j]);
      for (int64_t j = 0; j < n; ++j) real.p[j] = std::exp(-(real.p[j] - phimin) / (2 * nu));  // psi0 in (0, 1]
      fftw_execute_dft_r2c(fine_r2c, real.p, reinterpret_cast<fftw_complex*>(spec.p));
      // cur_k = psi_hat0_k exp(-nu k^2 t_first - i k c t_first); step_k advances by dt: the frames then
      // cost one complex multiply per mode instead of an exp and a sincos.
      for (int64_t j = 0; j < nk; ++j) {
        const double kk = k[size_t(j)];
        auto f0 = std::polar(std::exp(-nu * kk * kk * p.t_first[b]), -kk * c * p.t_first[b]);
        auto fs = std::polar(std::exp(-nu * kk * kk * p.dt[b]), -kk * c * p.dt[b]);
        cur.p[2 * j] = spec.p[2 * j] * f0.real() - spec.p[2 * j + 1] * f0.imag();
        cur.p[2 * j + 1] = spec.p[2 * j] * f0.imag() + spec.p[2 * j + 1] * f0.real();
        step.p[2 * j] = fs.real();
        step.p[2 * j + 1] = fs.imag();
      }
      for (int64_t f = 0; f < p.nt; ++f) {
        // spec[0] = psi_hat, spec[1] = i k psi_hat (the Nyquist mode of the derivative is dropped).
        for (int64_t j = 0; j < nk; ++j) {
          const double re = cur.p[2 * j], im = cur.p[2 * j + 1], kk = (j == n / 2) ? 0.0 : k[size_t(j)];
          spec.p[2 * j] = re;
          spec.p[2 * j + 1] = im;
          spec.p[2 * (nk + j)] = -kk * im;
          spec.p[2 * (nk + j) + 1] = kk * re;
        }
        fftw_execute_dft_c2r(pair_c2r, reinterpret_cast<fftw_complex*>(spec.p), real.p);
        double* dst = p.out + (b * p.nt + f) * nx;
        for (int64_t j = 0; j < nx; ++j) dst[j] = c - 2 * nu * real.p[n + j * stride] / real.p[j * stride];
        for (int64_t j = 0; j < nk; ++j) {
          const double re = cur.p[2 * j], im = cur.p[2 * j + 1];
          cur.p[2 * j] = re * step.p[2 * j] - im * step.p[2 * j + 1];
          cur.p[2 * j + 1] = re * step.p[2 * j + 1] + im * step.p[2 * j];
        }
      }
    }
  });
  std::lock_guard<std::mutex> lock(planner_mutex());
  for (auto plan : {pair_c2r, fine_c2r, fine_r2c, coarse_r2c}) fftw_destroy_plan(plan);
}

}  // namespace jess::pde::detail

namespace jess::pde::detail {

namespace {
// FFTW's double and single precision interfaces behind one name, for the row-shift kernel.
template <typename T>
struct Fftw;
template <>
struct Fftw<double> {
  using plan = fftw_plan;
  using complex = fftw_complex;
  static plan r2c(int n, double* in, complex* out) { return fftw_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static plan c2r(int n, complex* in, double* out) { return fftw_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void exec_r2c(plan p, double* in, complex* out) { fftw_execute_dft_r2c(p, in, out); }
  static void exec_c2r(plan p, complex* in, double* out) { fftw_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftw_destroy_plan(p); }
  static void* alloc(size_t bytes) { return fftw_malloc(bytes); }
  static void release(void* p) { fftw_free(p); }
};
template <>
struct Fftw<float> {
  using plan = fftwf_plan;
  using complex = fftwf_complex;
  static plan r2c(int n, float* in, complex* out) { return fftwf_plan_dft_r2c_1d(n, in, out, FFTW_ESTIMATE); }
  static plan c2r(int n, complex* in, float* out) { return fftwf_plan_dft_c2r_1d(n, in, out, FFTW_ESTIMATE); }
  static void exec_r2c(plan p, float* in, complex* out) { fftwf_execute_dft_r2c(p, in, out); }
  static void exec_c2r(plan p, complex* in, float* out) { fftwf_execute_dft_c2r(p, in, out); }
  static void destroy(plan p) { fftwf_destroy_plan(p); }
  static void* alloc(size_t bytes) { return fftwf_malloc(bytes); }
  static void release(void* p) { fftwf_free(p); }
};

template <typename T>
struct TBuffer {
  T* p;
  explicit TBuffer(size_t n) : p(static_cast<T*>(Fftw<T>::alloc(sizeof(T) * std::max<size_t>(n, 2)))) {
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, sizeof(T) * n);
  }
  ~TBuffer() { Fftw<T>::release(p); }
  TBuffer(const TBuffer&) = delete;
  TBuffer& operator=(const TBuffer&) = delete;
};

// T is the precision of the transforms: float32 views from float32 data are made in single precision
// (2x faster; their rounding, ~1e-7 relative, is that of the stored data), everything else in double.
template <typename T>
void row_shift(const RowShiftProblem& p) {
  using F = Fftw<T>;
  const int64_t n = p.nx, nk = n / 2 + 1, Tn = p.trajectories;
  int ni = int(n);
  typename F::plan r2c, c2r;
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    TBuffer<T> spec(2 * nk), real(n);
    r2c = F::r2c(ni, real.p, reinterpret_cast<typename F::complex*>(spec.p));
    c2r = F::c2r(ni, reinterpret_cast<typename F::complex*>(spec.p), real.p);
    if (!r2c || !c2r) throw std::runtime_error("FFTW could not plan a transform of size " + std::to_string(n));
  }
  parallel_workers(Tn, jess::runtime_info().threads, [&](int, const std::function<int64_t()>& next) {
    // Row spectra at a stride of whole 64-byte lines: FFTW's new-array execution needs the alignment
    // the plan was made with.
    const int64_t row_stride = (2 * nk * int64_t(sizeof(T)) + 63) / 64 * 64 / int64_t(sizeof(T));
    TBuffer<T> spec(2 * nk), real(n), rows(size_t(row_stride * p.nt));
    std::vector<double> hi_r(static_cast<size_t>(nk / 16 + 1)), hi_i(hi_r.size());
    std::vector<char> done(static_cast<size_t>(p.nt));
    for (int64_t t = next(); t >= 0; t = next()) {
      std::fill(done.begin(), done.end(), 0);
      for (int64_t v = t; v < p.views; v += Tn) {
        for (int64_t i = 0; i < p.crop_t; ++i) {
          const int64_t idx = v * p.crop_t + i, r = p.row[idx];
          T* rs = rows.p + row_stride * r;
          if (!done[size_t(r)]) {  // the row's spectrum, once per trajectory
            for (int64_t j = 0; j < n; ++j)
              real.p[j] = p.data_f64 ? T(p.data_f64[(t * p.nt + r) * n + j]) : T(p.data_f32[(t * p.nt + r) * n + j]);
            F::exec_r2c(r2c, real.p, reinterpret_cast<typename F::complex*>(rs));
            done[size_t(r)] = 1;
          }
          // Multiply by exp(+2 pi i k s / n) (sample at x + s). w^k = (w^16)^(k / 16) * w^(k % 16) from
          // two short power tables (one sincos per row, rounding ~1e-15, and no loop-carried chain in
          // the loop over modes).
          const double s = p.shift[idx];
          const double th = 2 * M_PI * s / double(n);
          double lo_r[16], lo_i[16];
          lo_r[0] = 1, lo_i[0] = 0;
          lo_r[1] = std::cos(th), lo_i[1] = std::sin(th);
          for (int m = 2; m < 16; ++m) {
            lo_r[m] = lo_r[m - 1] * lo_r[1] - lo_i[m - 1] * lo_i[1];
            lo_i[m] = lo_r[m - 1] * lo_i[1] + lo_i[m - 1] * lo_r[1];
          }
          const double w16r = lo_r[15] * lo_r[1] - lo_i[15] * lo_i[1], w16i = lo_r[15] * lo_i[1] + lo_i[15] * lo_r[1];
          const size_t nq = hi_r.size();
          hi_r[0] = 1, hi_i[0] = 0;
          for (size_t q = 1; q < nq; ++q) {
            hi_r[q] = hi_r[q - 1] * w16r - hi_i[q - 1] * w16i;
            hi_i[q] = hi_r[q - 1] * w16i + hi_i[q - 1] * w16r;
          }
          for (int64_t k = 0; k < nk; ++k) {
            const size_t q = size_t(k >> 4), m = size_t(k & 15);
            const double wr = hi_r[q] * lo_r[m] - hi_i[q] * lo_i[m], wi = hi_r[q] * lo_i[m] + hi_i[q] * lo_r[m];
            const double re = rs[2 * k], im = rs[2 * k + 1];
            spec.p[2 * k] = T(re * wr - im * wi);
            spec.p[2 * k + 1] = T(re * wi + im * wr);
          }
          if (n % 2 == 0) {  // Nyquist: a real interpolant keeps the cosine part only
            const double wr = std::cos(th * double(n / 2));
            spec.p[2 * (n / 2)] = T(double(rs[2 * (n / 2)]) * wr);
            spec.p[2 * (n / 2) + 1] = 0;
          }
          F::exec_c2r(c2r, reinterpret_cast<typename F::complex*>(spec.p), real.p);
          const double a = p.A[idx] / double(n), b = p.B0[idx];
          if (p.out_f32) {
            float* dst = p.out_f32 + idx * p.crop_x;
            for (int64_t j = 0; j < p.crop_x; ++j) dst[j] = float(a * double(real.p[j]) + b);
          } else {
            double* dst = p.out + idx * p.crop_x;
            for (int64_t j = 0; j < p.crop_x; ++j) dst[j] = a * double(real.p[j]) + b;
          }
        }
      }
    }
  });
  std::lock_guard<std::mutex> lock(planner_mutex());
  F::destroy(r2c);
  F::destroy(c2r);
}
}  // namespace

void row_shift_cpu(const RowShiftProblem& p) {
  if (p.out_f32 && p.data_f32) row_shift<float>(p);
  else row_shift<double>(p);
}

}  // namespace jess::pde::detail

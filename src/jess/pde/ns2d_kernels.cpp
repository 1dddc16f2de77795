#include "jess/pde/ns2d_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "jess/core/parallel.h"

namespace jess::pde::ns2d::detail {

namespace {

// The row loops write one output row and read only the (padded) inputs, which never overlap it; the
// compiler cannot prove that for the data-dependent (gathered) reads, so it is told, and the loops
// become SIMD gathers.
#if defined(__clang__)
#define JESS_NO_ALIAS_LOOP _Pragma("clang loop vectorize(assume_safety)")
#elif defined(__GNUC__)
#define JESS_NO_ALIAS_LOOP _Pragma("GCC ivdep")
#else
#define JESS_NO_ALIAS_LOOP
#endif

// A copy of f (H, W) inside a zero border (one row / column before, two after), so that the four taps
// of a clamped bilinear sample are always valid reads and the border supplies the zeros outside: no
// branch per tap, no floor() call, no data-dependent branch at all, so the row loops below compile to
// SIMD gathers (the hot loops of the semi-Lagrangian steps). Arithmetic in T: float fields are sampled
// in float, as the tensor path's grid_sampler does.
template <typename T>
struct Padded {
  int64_t H = 0, W = 0, stride = 0;
  std::vector<T> a;
  void assign(const T* f, int64_t h, int64_t w) {
    H = h, W = w, stride = w + 3;
    a.assign(static_cast<size_t>((h + 3) * stride), T(0));
    for (int64_t y = 0; y < h; ++y) std::copy(f + y * w, f + (y + 1) * w, a.begin() + (y + 1) * stride + 1);
  }
  // f(y, x), zero outside; y in [-1, H + 1], x in [-1, W + 1].
  T at(int64_t y, int64_t x) const { return a[static_cast<size_t>((y + 1) * stride + x + 1)]; }
};

// Bilinear sample of p at fractional indices (fx, fy), the coordinates clamped into [xlo, xhi] x [ylo, yhi]
// (zeros outside the grid: [-1, W] x [-1, H]; zero-gradient walls: [0, W - 1] x [0, H - 1]). The clamp
// is written so that a NaN coordinate lands on the bound (never an out-of-range read) and the NaN is
// then put back into the result (0 * NaN), as is an infinite one: a blow-up is never sampled away.
template <typename T>
inline T sample(const T* p, int64_t stride, T fx, T fy, T xlo, T xhi, T ylo, T yhi) {
  const T nan_or_zero = T(0) * (fx + fy);
  const T cx = std::min(std::max(xlo, fx), xhi), cy = std::min(std::max(ylo, fy), yhi);
  const int x0 = int(cx + T(1)) - 1, y0 = int(cy + T(1)) - 1;  // floor, as cx, cy >= -1
  const T wx = cx - T(x0), wy = cy - T(y0);
  const T* r0 = p + (int64_t(y0) + 1) * stride + (x0 + 1);
  const T* r1 = r0 + stride;
  return (1 - wy) * ((1 - wx) * r0[0] + wx * r0[1]) + wy * ((1 - wx) * r1[0] + wx * r1[1]) + nan_or_zero;
}

// Row j of one trajectory's advected smoke: s padded, u = vx (n, n + 1), v = vy (n + 1, n).
template <typename T>
inline void smoke_row(int64_t n, double dx, double dt, const Padded<T>& s, const T* u, const T* v, int64_t j, T* out_row) {
  const T c = T(dt / dx), hi = T(n - 1), fj = T(j);
  const T* uj = u + j * (n + 1);
  const T* vj = v + j * n;
  const T* vj1 = vj + n;
  const T* p = s.a.data();
  const int64_t stride = s.stride;
  JESS_NO_ALIAS_LOOP
  for (int64_t i = 0; i < n; ++i) {
    const T uc = T(0.5) * (uj[i] + uj[i + 1]);
    const T vc = T(0.5) * (vj[i] + vj1[i]);
    // Back position in cell-centre index units: ((i + 1/2) dx - dt uc) / dx - 1/2.
    out_row[i] = sample(p, stride, T(i) - c * uc, fj - c * vc, T(0), hi, T(0), hi);
  }
}

// Row `row` of one trajectory's self-advected velocity (u, v padded): rows 0..n-1 are vx's, n..2n vy's.
template <typename T>
inline void velocity_row(int64_t n, double dx, double dt, const Padded<T>& u, const Padded<T>& v, int64_t row, T* out_vx,
                         T* out_vy) {
  const T c = T(dt / dx);
  if (row < n) {  // a row of vx faces: (i dx, (j + 1/2) dx), index units of the vx grid: (i, j)
    const int64_t j = row;
    T* o = out_vx + j * (n + 1);
    o[0] = o[n] = T(0);
    const T* uj = u.a.data() + (j + 1) * u.stride + 1;  // u(j, .)
    const T* vj = v.a.data() + (j + 1) * v.stride + 1;  // v(j, .)
    const T* vj1 = vj + v.stride;                       // v(j + 1, .)
    const T fj = T(j), xhi = T(u.W), yhi = T(u.H);
    JESS_NO_ALIAS_LOOP
    for (int64_t i = 1; i < n; ++i) {
      const T vv = T(0.25) * (vj[i - 1] + vj[i] + vj1[i - 1] + vj1[i]);
      o[i] = sample(u.a.data(), u.stride, T(i) - c * uj[i], fj - c * vv, T(-1), xhi, T(-1), yhi);
    }
  } else {  // a row of vy faces: ((i + 1/2) dx, j dx), index units of the vy grid: (i, j)
    const int64_t j = row - n;
    T* o = out_vy + j * n;
    if (j == 0 || j == n) {
      std::fill(o, o + n, T(0));
      return;
    }
    const T* vj = v.a.data() + (j + 1) * v.stride + 1;  // v(j, .)
    const T* uj0 = u.a.data() + j * u.stride + 1;       // u(j - 1, .)
    const T* uj = uj0 + u.stride;                       // u(j, .)
    const T fj = T(j), xhi = T(v.W), yhi = T(v.H);
    JESS_NO_ALIAS_LOOP
    for (int64_t i = 0; i < n; ++i) {
      const T uu = T(0.25) * (uj0[i] + uj0[i + 1] + uj[i] + uj[i + 1]);
      o[i] = sample(v.a.data(), v.stride, T(i) - c * uu, fj - c * vj[i], T(-1), xhi, T(-1), yhi);
    }
  }
}

// f + c lap(f) for an (H, W) array with zeros outside, the 5-point Laplacian / dx^2 (ns2d.cpp's
// laplacian_zero_outside), written to out.
template <typename T>
inline void add_laplacian(int64_t H, int64_t W, const T* f, double c, T* out) {
  const std::vector<T> zeros(static_cast<size_t>(W), T(0));
  const T k = T(c);
  for (int64_t y = 0; y < H; ++y) {
    const T* row = f + y * W;
    const T* up = y > 0 ? row - W : zeros.data();
    const T* down = y + 1 < H ? row + W : zeros.data();
    T* o = out + y * W;
    o[0] = row[0] + k * (up[0] + down[0] + (W > 1 ? row[1] : T(0)) - T(4) * row[0]);
    for (int64_t x = 1; x + 1 < W; ++x) o[x] = row[x] + k * (up[x] + down[x] + row[x - 1] + row[x + 1] - T(4) * row[x]);
    if (W > 1) o[W - 1] = row[W - 1] + k * (up[W - 1] + down[W - 1] + row[W - 2] - T(4) * row[W - 1]);
  }
}

}  // namespace

template <typename T>
void advect_smoke_cpu(int64_t B, int64_t n, double dx, double dt, const T* s, const T* vx, const T* vy, T* out, int threads) {
  std::vector<Padded<T>> ps(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) ps[size_t(b)].assign(s + b * n * n, n, n);
  parallel_workers(B * n, threads, [&](int, const std::function<int64_t()>& next) {
    for (int64_t r = next(); r >= 0; r = next()) {
      const int64_t b = r / n, j = r % n;
      smoke_row(n, dx, dt, ps[size_t(b)], vx + b * n * (n + 1), vy + b * (n + 1) * n, j, out + (b * n + j) * n);
    }
  });
}

template <typename T>
void advect_velocity_cpu(int64_t B, int64_t n, double dx, double dt, const T* vx, const T* vy, T* out_vx, T* out_vy,
                         int threads) {
  const int64_t nf = n * (n + 1);
  std::vector<Padded<T>> pu(static_cast<size_t>(B)), pv(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) pu[size_t(b)].assign(vx + b * nf, n, n + 1), pv[size_t(b)].assign(vy + b * nf, n + 1, n);
  parallel_workers(B * (2 * n + 1), threads, [&](int, const std::function<int64_t()>& next) {
    for (int64_t r = next(); r >= 0; r = next()) {
      const int64_t b = r / (2 * n + 1), row = r % (2 * n + 1);
      velocity_row(n, dx, dt, pu[size_t(b)], pv[size_t(b)], row, out_vx + b * nf, out_vy + b * nf);
    }
  });
}

template <typename T>
void neumann_poisson_one(int64_t n, double dx, T* x, T* work, const Transform<T>& dct2, const Transform<T>& dct3) {
  const int64_t nn = n * n;
  // The DCT-II along x diagonalises the x part of the Neumann 5-point Laplacian: mode k has eigenvalue
  // mu_k / dx^2, mu_k = 2 cos(pi k / n) - 2. Each mode k then solves, along y and times dx^2, the
  // tridiagonal system p[j-1] + (mu_k - 2) p[j] + p[j+1] = dx^2 r[j] with the zero-flux ghost rows
  // (p[-1] = p[0], p[n] = p[n-1]: the end diagonals are mu_k - 1), exactly, by Gaussian elimination
  // (Thomas' algorithm: strictly diagonally dominant for k >= 1, so no pivoting). Half the transforms of
  // a 2-D DCT and contiguous rows only (measured 4x faster on 128^2). The pivots depend only on (k, j):
  // their inverses are tabulated once per thread and grid. Mode k = 0 is the 1-D Neumann problem, singular
  // (constants): its flux p[j+1] - p[j] is the running sum of the right-hand side, and mean(p) = 0 fixes
  // the constant. REDFT10 then REDFT01 scale by 2n.
  thread_local int64_t table_n = 0;
  thread_local std::vector<double> inv_pivot, mu;
  thread_local std::vector<double> d;  // the eliminated right-hand side, (n, n)
  if (table_n != n) {
    mu.assign(static_cast<size_t>(n), 0.0);
    for (int64_t k = 0; k < n; ++k) mu[size_t(k)] = 2 * std::cos(M_PI * double(k) / double(n)) - 2;
    inv_pivot.assign(static_cast<size_t>(nn), 0.0);
    for (int64_t k = 1; k < n; ++k) {
      double pivot = mu[size_t(k)] - 1;  // row 0
      inv_pivot[size_t(k)] = 1 / pivot;
      for (int64_t j = 1; j < n; ++j) {
        const double diag = mu[size_t(k)] - (j == n - 1 ? 1 : 2);
        pivot = diag - 1 / pivot;  // the sub-diagonal (1) times the previous row's multiplier (1 / pivot)
        inv_pivot[size_t(j * n + k)] = 1 / pivot;
      }
    }
    d.assign(static_cast<size_t>(nn), 0.0);
    table_n = n;
  }
  double mean = 0;
  for (int64_t i = 0; i < nn; ++i) mean += double(x[i]);
  mean /= double(nn);
  for (int64_t i = 0; i < nn; ++i) x[i] = T(double(x[i]) - mean);
  dct2(x, work);  // rows: work(j, k) = REDFT10 of x(j, .)
  const double h2 = dx * dx, scale = 1.0 / (2.0 * double(n));
  const double* ip = inv_pivot.data();
  double* dd = d.data();
  // Forward elimination, row by row (every mode k at once: the inner loops are SIMD).
  for (int64_t k = 1; k < n; ++k) dd[k] = h2 * double(work[k]) * ip[k];
  for (int64_t j = 1; j < n; ++j) {
    const T* r = work + j * n;
    const double* prev = dd + (j - 1) * n;
    double* cur = dd + j * n;
    const double* ipj = ip + j * n;
    for (int64_t k = 1; k < n; ++k) cur[k] = (h2 * double(r[k]) - prev[k]) * ipj[k];
  }
  // Back substitution: p[j] = d[j] - p[j + 1] / pivot[j] (the super-diagonal is 1).
  for (int64_t j = n - 2; j >= 0; --j) {
    double* cur = dd + j * n;
    const double* next = dd + (j + 1) * n;
    const double* ipj = ip + j * n;
    for (int64_t k = 1; k < n; ++k) cur[k] -= next[k] * ipj[k];
  }
  // Mode 0: running flux, then the mean removed.
  double flux = 0, p0 = 0, sum = 0;
  for (int64_t j = 0; j < n; ++j) {
    dd[j * n] = p0;
    sum += p0;
    flux += h2 * double(work[j * n]);
    p0 += flux;
  }
  for (int64_t j = 0; j < n; ++j) dd[j * n] -= sum / double(n);
  for (int64_t i = 0; i < nn; ++i) work[i] = T(dd[i] * scale);
  dct3(work, x);  // rows: x(j, .) = REDFT01 of work(j, .)
}

template <typename T>
void step_cpu(int64_t B, int64_t n, double dx, double dt, double nu, const T* s, const T* vx, const T* vy, const double* buoyancy,
              T* s_out, T* vx_out, T* vy_out, const Transform<T>& dct2, const Transform<T>& dct3, int threads) {
  const int64_t nn = n * n, nf = n * (n + 1);
  parallel_workers(B, threads, [&](int, const std::function<int64_t()>& next) {
    std::vector<T> ax(static_cast<size_t>(nf)), ay(static_cast<size_t>(nf));
    AlignedArray<T> p(nn), work(nn);  // the DCT plans' SIMD codelets need 64-byte aligned arrays
    Padded<T> ps, pu, pv;
    for (int64_t b = next(); b >= 0; b = next()) {
      const T* u = vx + b * nf;
      const T* v = vy + b * nf;
      T* so = s_out + b * nn;
      T* uo = vx_out + b * nf;
      T* vo = vy_out + b * nf;
      ps.assign(s + b * nn, n, n), pu.assign(u, n, n + 1), pv.assign(v, n + 1, n);
      // 1. smoke advection
      for (int64_t j = 0; j < n; ++j) smoke_row(n, dx, dt, ps, u, v, j, so + j * n);
      // 3. velocity self-advection (into ax, ay), plus 2. the buoyancy force at the interior horizontal
      //    faces from the advected smoke (face j between cells j - 1 and j; zero-gradient walls)
      for (int64_t row = 0; row <= 2 * n; ++row) velocity_row(n, dx, dt, pu, pv, row, ax.data(), ay.data());
      const T force = T(dt) * T(buoyancy[b]);
      for (int64_t j = 1; j < n; ++j)
        for (int64_t i = 0; i < n; ++i) ay[size_t(j * n + i)] += force * ((so[(j - 1) * n + i] + so[j * n + i]) / T(2));
      // 4. explicit diffusion (zero outside the box), then the wall faces back to zero
      add_laplacian(n, n + 1, ax.data(), nu * dt / (dx * dx), uo);
      add_laplacian(n + 1, n, ay.data(), nu * dt / (dx * dx), vo);
      for (int64_t j = 0; j < n; ++j) uo[j * (n + 1)] = uo[j * (n + 1) + n] = T(0);
      std::fill(vo, vo + n, T(0));
      std::fill(vo + n * n, vo + n * n + n, T(0));
      // 5. projection: p with lap p = div v - mean, mean(p) = 0; v -= grad p
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 0; i < n; ++i)
          p[size_t(j * n + i)] = (uo[j * (n + 1) + i + 1] - uo[j * (n + 1) + i] + vo[(j + 1) * n + i] - vo[j * n + i]) / T(dx);
      neumann_poisson_one(n, dx, p.data(), work.data(), dct2, dct3);
      for (int64_t j = 0; j < n; ++j)
        for (int64_t i = 1; i < n; ++i) uo[j * (n + 1) + i] -= (p[size_t(j * n + i)] - p[size_t(j * n + i - 1)]) / T(dx);
      for (int64_t j = 1; j < n; ++j)
        for (int64_t i = 0; i < n; ++i) vo[j * n + i] -= (p[size_t(j * n + i)] - p[size_t((j - 1) * n + i)]) / T(dx);
    }
  });
}

template void advect_smoke_cpu<float>(int64_t, int64_t, double, double, const float*, const float*, const float*, float*, int);
template void advect_smoke_cpu<double>(int64_t, int64_t, double, double, const double*, const double*, const double*, double*, int);
template void advect_velocity_cpu<float>(int64_t, int64_t, double, double, const float*, const float*, float*, float*, int);
template void advect_velocity_cpu<double>(int64_t, int64_t, double, double, const double*, const double*, double*, double*, int);
template void neumann_poisson_one<float>(int64_t, double, float*, float*, const Transform<float>&, const Transform<float>&);
template void neumann_poisson_one<double>(int64_t, double, double*, double*, const Transform<double>&, const Transform<double>&);
template void step_cpu<float>(int64_t, int64_t, double, double, double, const float*, const float*, const float*, const double*,
                              float*, float*, float*, const Transform<float>&, const Transform<float>&, int);
template void step_cpu<double>(int64_t, int64_t, double, double, double, const double*, const double*, const double*,
                               const double*, double*, double*, double*, const Transform<double>&, const Transform<double>&, int);

}  // namespace jess::pde::ns2d::detail

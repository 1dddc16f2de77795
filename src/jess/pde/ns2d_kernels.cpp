#include "jess/pde/ns2d_kernels.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "jess/core/parallel.h"

namespace jess::pde::ns2d::detail {

namespace {

// A copy of f (H, W) inside a zero border (one row / column before, two after), so that the four taps
// of a clamped bilinear sample are always valid reads and the border supplies the zeros outside: no
// branch per tap, no floor() call (the hot loop of the semi-Lagrangian steps).
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
  double at(int64_t y, int64_t x) const { return double(a[static_cast<size_t>((y + 1) * stride + x + 1)]); }
  // Bilinear sample at fractional indices (fx, fy): zeros outside the grid, or (border) the coordinates
  // clamped into it (zero-gradient walls).
  double sample(double fx, double fy, bool border) const {
    if (std::isnan(fx) || std::isnan(fy)) return NAN;
    const double lo = border ? 0.0 : -1.0;
    fx = std::min(std::max(fx, lo), double(border ? W - 1 : W));
    fy = std::min(std::max(fy, lo), double(border ? H - 1 : H));
    const int64_t x0 = int64_t(fx + 1.0) - 1, y0 = int64_t(fy + 1.0) - 1;  // floor, as fx, fy >= -1
    const double wx = fx - double(x0), wy = fy - double(y0);
    const T* r0 = a.data() + (y0 + 1) * stride + (x0 + 1);
    const T* r1 = r0 + stride;
    return (1 - wy) * ((1 - wx) * double(r0[0]) + wx * double(r0[1])) + wy * ((1 - wx) * double(r1[0]) + wx * double(r1[1]));
  }
};

// Row j of one trajectory's advected smoke: s padded, u = vx (n, n + 1), v = vy (n + 1, n).
template <typename T>
inline void smoke_row(int64_t n, double dx, double dt, const Padded<T>& s, const T* u, const T* v, int64_t j, T* out_row) {
  for (int64_t i = 0; i < n; ++i) {
    const double uc = 0.5 * (double(u[j * (n + 1) + i]) + double(u[j * (n + 1) + i + 1]));
    const double vc = 0.5 * (double(v[j * n + i]) + double(v[(j + 1) * n + i]));
    // Back position in cell-centre index units: ((i + 1/2) dx - dt uc) / dx - 1/2.
    out_row[i] = T(s.sample(double(i) - dt * uc / dx, double(j) - dt * vc / dx, true));
  }
}

// Row `row` of one trajectory's self-advected velocity (u, v padded): rows 0..n-1 are vx's, n..2n vy's.
template <typename T>
inline void velocity_row(int64_t n, double dx, double dt, const Padded<T>& u, const Padded<T>& v, int64_t row, T* out_vx,
                         T* out_vy) {
  if (row < n) {  // a row of vx faces: (i dx, (j + 1/2) dx), index units of the vx grid: (i, j)
    const int64_t j = row;
    T* o = out_vx + j * (n + 1);
    o[0] = o[n] = T(0);
    for (int64_t i = 1; i < n; ++i) {
      const double uu = u.at(j, i);
      const double vv = 0.25 * (v.at(j, i - 1) + v.at(j, i) + v.at(j + 1, i - 1) + v.at(j + 1, i));
      o[i] = T(u.sample(double(i) - dt * uu / dx, double(j) - dt * vv / dx, false));
    }
  } else {  // a row of vy faces: ((i + 1/2) dx, j dx), index units of the vy grid: (i, j)
    const int64_t j = row - n;
    T* o = out_vy + j * n;
    if (j == 0 || j == n) {
      std::fill(o, o + n, T(0));
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const double vv = v.at(j, i);
      const double uu = 0.25 * (u.at(j - 1, i) + u.at(j - 1, i + 1) + u.at(j, i) + u.at(j, i + 1));
      o[i] = T(v.sample(double(i) - dt * uu / dx, double(j) - dt * vv / dx, false));
    }
  }
}

// f + c lap(f) for an (H, W) array with zeros outside, the 5-point Laplacian / dx^2 (ns2d.cpp's
// laplacian_zero_outside), written to out.
template <typename T>
inline void add_laplacian(int64_t H, int64_t W, const T* f, double c, T* out) {
  for (int64_t y = 0; y < H; ++y)
    for (int64_t x = 0; x < W; ++x) {
      const T centre = f[y * W + x];
      const T up = y > 0 ? f[(y - 1) * W + x] : T(0), down = y + 1 < H ? f[(y + 1) * W + x] : T(0);
      const T left = x > 0 ? f[y * W + x - 1] : T(0), right = x + 1 < W ? f[y * W + x + 1] : T(0);
      out[y * W + x] = T(double(centre) + c * double(up + down + left + right - T(4) * centre));
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
  // DCT-II modes are eigenvectors of the Neumann 5-point Laplacian: lambda_kl = (2 cos(pi k / n) - 2 +
  // 2 cos(pi l / n) - 2) / dx^2; the (0, 0) mode (a constant) is fixed by mean(p) = 0, and removing the
  // right-hand side's mean is the Neumann problem's compatibility condition. The scaled inverses
  // 1 / (4 n^2 lambda_kl) (REDFT10 then REDFT01 scale by 2n per axis) are made once per thread and grid.
  thread_local int64_t table_n = 0;
  thread_local double table_dx = 0;
  thread_local std::vector<double> inverse;
  if (table_n != n || table_dx != dx) {
    std::vector<double> lam(static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) lam[size_t(k)] = (2 * std::cos(M_PI * double(k) / double(n)) - 2) / (dx * dx);
    const double norm = 1.0 / (4.0 * double(n) * double(n));
    inverse.assign(static_cast<size_t>(nn), 0.0);
    for (int64_t k = 0; k < n; ++k)
      for (int64_t l = 0; l < n; ++l)
        if (k || l) inverse[size_t(k * n + l)] = norm / (lam[size_t(k)] + lam[size_t(l)]);
    table_n = n, table_dx = dx;
  }
  double mean = 0;
  for (int64_t i = 0; i < nn; ++i) mean += double(x[i]);
  mean /= double(nn);
  for (int64_t i = 0; i < nn; ++i) x[i] = T(double(x[i]) - mean);
  dct2(x, work);
  const double* inv = inverse.data();
  for (int64_t i = 0; i < nn; ++i) work[i] = T(double(work[i]) * inv[i]);
  dct3(work, x);
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

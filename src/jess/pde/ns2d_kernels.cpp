#include "jess/pde/ns2d_kernels.h"

#include <algorithm>
#include <cmath>

#include "jess/core/parallel.h"

namespace jess::pde::ns2d::detail {

namespace {

// Bilinear sample of f (H, W) at fractional indices (fx, fy): zeros outside, or clamped (border).
template <typename T>
inline T bilinear(const T* f, int64_t H, int64_t W, double fx, double fy, bool border) {
  if (border) {
    fx = std::min(std::max(fx, 0.0), double(W - 1));
    fy = std::min(std::max(fy, 0.0), double(H - 1));
  }
  const double x0f = std::floor(fx), y0f = std::floor(fy);
  const int64_t x0 = int64_t(x0f), y0 = int64_t(y0f);
  const double wx = fx - x0f, wy = fy - y0f;
  double v = 0;
  auto at = [&](int64_t y, int64_t x, double w) {
    if (w != 0 && x >= 0 && x < W && y >= 0 && y < H) v += w * double(f[y * W + x]);
  };
  at(y0, x0, (1 - wx) * (1 - wy));
  at(y0, x0 + 1, wx * (1 - wy));
  at(y0 + 1, x0, (1 - wx) * wy);
  at(y0 + 1, x0 + 1, wx * wy);
  return T(v);
}

}  // namespace

template <typename T>
void advect_smoke_cpu(int64_t B, int64_t n, double dx, double dt, const T* s, const T* vx, const T* vy, T* out, int threads) {
  parallel_workers(B * n, threads, [&](int, const std::function<int64_t()>& next) {
    for (int64_t r = next(); r >= 0; r = next()) {
      const int64_t b = r / n, j = r % n;
      const T* sb = s + b * n * n;
      const T* u = vx + b * n * (n + 1);
      const T* v = vy + b * (n + 1) * n;
      for (int64_t i = 0; i < n; ++i) {
        const double uc = 0.5 * (double(u[j * (n + 1) + i]) + double(u[j * (n + 1) + i + 1]));
        const double vc = 0.5 * (double(v[j * n + i]) + double(v[(j + 1) * n + i]));
        // Back position in cell-centre index units: ((i + 1/2) dx - dt uc) / dx - 1/2.
        out[(b * n + j) * n + i] = bilinear(sb, n, n, double(i) - dt * uc / dx, double(j) - dt * vc / dx, true);
      }
    }
  });
}

template <typename T>
void advect_velocity_cpu(int64_t B, int64_t n, double dx, double dt, const T* vx, const T* vy, T* out_vx, T* out_vy,
                         int threads) {
  const int64_t nu = n * (n + 1);
  parallel_workers(B * (2 * n + 1), threads, [&](int, const std::function<int64_t()>& next) {
    for (int64_t r = next(); r >= 0; r = next()) {
      const int64_t b = r / (2 * n + 1), row = r % (2 * n + 1);
      const T* u = vx + b * nu;
      const T* v = vy + b * nu;
      auto vy_at = [&](int64_t y, int64_t x) { return (x < 0 || x >= n) ? 0.0 : double(v[y * n + x]); };
      auto vx_at = [&](int64_t y, int64_t x) { return (y < 0 || y >= n) ? 0.0 : double(u[y * (n + 1) + x]); };
      if (row < n) {  // a row of vx faces: (i dx, (j + 1/2) dx), index units of the vx grid: (i, j)
        const int64_t j = row;
        T* o = out_vx + b * nu + j * (n + 1);
        o[0] = o[n] = T(0);
        for (int64_t i = 1; i < n; ++i) {
          const double uu = double(u[j * (n + 1) + i]);
          const double vv = 0.25 * (vy_at(j, i - 1) + vy_at(j, i) + vy_at(j + 1, i - 1) + vy_at(j + 1, i));
          o[i] = bilinear(u, n, n + 1, double(i) - dt * uu / dx, double(j) - dt * vv / dx, false);
        }
      } else {  // a row of vy faces: ((i + 1/2) dx, j dx), index units of the vy grid: (i, j)
        const int64_t j = row - n;
        T* o = out_vy + b * nu + j * n;
        if (j == 0 || j == n) {
          std::fill(o, o + n, T(0));
          continue;
        }
        for (int64_t i = 0; i < n; ++i) {
          const double vv = double(v[j * n + i]);
          const double uu = 0.25 * (vx_at(j - 1, i) + vx_at(j - 1, i + 1) + vx_at(j, i) + vx_at(j, i + 1));
          o[i] = bilinear(v, n + 1, n, double(i) - dt * uu / dx, double(j) - dt * vv / dx, false);
        }
      }
    }
  });
}

template void advect_smoke_cpu<float>(int64_t, int64_t, double, double, const float*, const float*, const float*, float*, int);
template void advect_smoke_cpu<double>(int64_t, int64_t, double, double, const double*, const double*, const double*, double*, int);
template void advect_velocity_cpu<float>(int64_t, int64_t, double, double, const float*, const float*, float*, float*, int);
template void advect_velocity_cpu<double>(int64_t, int64_t, double, double, const double*, const double*, double*, double*, int);

}  // namespace jess::pde::ns2d::detail

#pragma once
// (internal) Fused CPU kernels of the 2-D smoke solver's semi-Lagrangian steps (ns2d.cpp), torch-free so
// this translation unit compiles fast: one pass per output point (backtrace + bilinear sample), no
// temporary grids. The tensor path in ns2d.cpp (grid_sampler) is the reference and the GPU path; the
// tests check that both agree. Arrays are C-ordered, rows y, columns x.
#include <cstdint>

namespace jess::pde::ns2d::detail {

// s (B, n, n) at cell centres advected by vx (B, n, n + 1), vy (B, n + 1, n): zero-gradient walls.
template <typename T>
void advect_smoke_cpu(int64_t B, int64_t n, double dx, double dt, const T* s, const T* vx, const T* vy, T* out, int threads);

// vx, vy self-advected (zero outside the box; the wall faces set to zero).
template <typename T>
void advect_velocity_cpu(int64_t B, int64_t n, double dx, double dt, const T* vx, const T* vy, T* out_vx, T* out_vy,
                         int threads);

}  // namespace jess::pde::ns2d::detail

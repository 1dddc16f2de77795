#pragma once
// (internal) Fused CPU kernels of the 2-D smoke solver's semi-Lagrangian steps (ns2d.cpp), torch-free so
// this translation unit compiles fast: one pass per output point (backtrace + bilinear sample), no
// temporary grids. The tensor path in ns2d.cpp (grid_sampler) is the reference and the GPU path; the
// tests check that both agree. Arrays are C-ordered, rows y, columns x.
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>

namespace jess::pde::ns2d::detail {

// s (B, n, n) at cell centres advected by vx (B, n, n + 1), vy (B, n + 1, n): zero-gradient walls.
template <typename T>
void advect_smoke_cpu(int64_t B, int64_t n, double dx, double dt, const T* s, const T* vx, const T* vy, T* out, int threads);

// vx, vy self-advected (zero outside the box; the wall faces set to zero).
template <typename T>
void advect_velocity_cpu(int64_t B, int64_t n, double dx, double dt, const T* vx, const T* vy, T* out_vx, T* out_vy,
                         int threads);

// One whole step (ns2d.h, steps 1-5) per trajectory, trajectories in parallel: each trajectory's fields
// (3 n^2 values) stay in cache through the five stages instead of streaming the whole batch through
// each stage in turn. b (B,) buoyancies. The projection's transforms come from the caller (FFTW plans,
// made under its planner lock): dct2(x, work) work <- REDFT10 of each row of x; dct3(work, x) x <- REDFT01 of each row, both
// unnormalised, thread safe. Outputs may not alias the inputs.
template <typename T>
using Transform = std::function<void(T* in, T* out)>;
// Scratch whose start is 64-byte aligned: the DCT plans are made for aligned arrays (SIMD codelets) and
// fall back to unaligned plans for other pointers.
template <typename T>
class AlignedArray {
 public:
  explicit AlignedArray(int64_t count)
      : data_(static_cast<T*>(std::aligned_alloc(64, ((size_t(count) * sizeof(T) + 63) / 64) * 64))) {
    if (!data_) throw std::bad_alloc();
  }
  ~AlignedArray() { std::free(data_); }
  AlignedArray(const AlignedArray&) = delete;
  AlignedArray& operator=(const AlignedArray&) = delete;
  T* data() { return data_; }
  T& operator[](size_t i) { return data_[i]; }

 private:
  T* data_;
};
// One trajectory's Neumann Poisson solve in place: x (n, n) <- p with lap p = x - mean(x) (5-point
// Laplacian / dx^2, zero flux through the walls) and mean(p) = 0, exactly (DCT along x, elimination along
// y); work: n^2 scratch.
template <typename T>
void neumann_poisson_one(int64_t n, double dx, T* x, T* work, const Transform<T>& dct2, const Transform<T>& dct3);

template <typename T>
void step_cpu(int64_t B, int64_t n, double dx, double dt, double nu, const T* s, const T* vx, const T* vy, const double* b,
              T* s_out, T* vx_out, T* vy_out, const Transform<T>& dct2, const Transform<T>& dct3, int threads);

}  // namespace jess::pde::ns2d::detail

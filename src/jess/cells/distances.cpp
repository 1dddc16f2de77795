#include "jess/cells/distances.h"

#include <algorithm>
#include <stdexcept>
#include <string>
#include <thread>

namespace jess::cells {

int resolve_threads(int threads) {
  if (threads > 0) return threads;
  return int(std::max(1u, std::thread::hardware_concurrency()));
}

SquaredDistances::SquaredDistances(const Matrix& references)
    : count_(references.rows), dims_(references.cols), tiles_((references.rows + 3) / 4) {
  packed_.assign(size_t(tiles_ * dims_ * 4), 0.0);
  norms_.assign(size_t(count_), 0.0);
  for (int64_t r = 0; r < count_; ++r)
    for (int64_t j = 0; j < dims_; ++j) {
      const double v = references(r, j);
      packed_[size_t(((r / 4) * dims_ + j) * 4 + r % 4)] = v;
      norms_[size_t(r)] += v * v;
    }
}

void SquaredDistances::rows(const Matrix& x, int64_t begin, int64_t end, double* out) const {
  if (x.cols != dims_)
    throw std::invalid_argument("squared distances: the rows have " + std::to_string(x.cols) +
                                " features, the references " + std::to_string(dims_));
  const int64_t n = end - begin, k = count_, d = dims_;
  if (n < 0 || n > kMaxBlockRows || begin < 0 || end > x.rows)
    throw std::invalid_argument("squared distances: bad row block " + std::to_string(begin) + ".." + std::to_string(end));
  std::fill(out, out + n * k, 0.0);
  const std::vector<double> zeros(size_t(d), 0.0);  // stands in for the missing rows of a last group
  constexpr int64_t kChunk = 256;                    // features per pass: a tile chunk is 8 KiB
  for (int64_t jc = 0; jc < d; jc += kChunk) {
    const int64_t jn = std::min(kChunk, d - jc);
    for (int64_t t = 0; t < tiles_; ++t) {
      const double* tile = packed_.data() + (t * d + jc) * 4;
      const int64_t in_tile = std::min<int64_t>(4, k - 4 * t);
      for (int64_t g = 0; g < n; g += 4) {
        const double* r[4];
        for (int a = 0; a < 4; ++a) r[a] = g + a < n ? x.row(begin + g + a) + jc : zeros.data();
        // 4 x 4 register block: each loaded value feeds four multiply-adds.
        double acc[4][4] = {};
        for (int64_t j = 0; j < jn; ++j) {
          const double* c = tile + 4 * j;
          for (int a = 0; a < 4; ++a) {
            const double xv = r[a][j];
            for (int b = 0; b < 4; ++b) acc[a][b] += xv * c[b];
          }
        }
        for (int64_t a = 0; a < std::min<int64_t>(4, n - g); ++a)
          for (int64_t b = 0; b < in_tile; ++b) out[(g + a) * k + 4 * t + b] += acc[a][b];
      }
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const double* xi = x.row(begin + i);
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) norm += xi[j] * xi[j];
    double* o = out + i * k;
    for (int64_t c = 0; c < k; ++c) o[c] = std::max(0.0, norm - 2 * o[c] + norms_[size_t(c)]);
  }
}

}  // namespace jess::cells

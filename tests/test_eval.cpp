// RankMe against matrices with known spectra, invariances, rank-r data, and streaming vs in-memory.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>

#include "jess/core/npy.h"
#include "jess/core/runtime.h"
#include "jess/eval/rankme.h"

using namespace jess::eval;

namespace {
const bool kRuntime = (jess::init_runtime(2, false), true);

at::Tensor orthogonal(int64_t n, int64_t seed) {
  at::manual_seed(uint64_t(seed));
  return std::get<0>(at::linalg_qr(at::randn({n, n}, at::kDouble)));
}

// Z = U diag(s) V^T with random orthogonal U (n x n), V (k x k).
at::Tensor with_spectrum(const std::vector<double>& s, int64_t n, int64_t k, int64_t seed) {
  auto D = at::zeros({n, k}, at::kDouble);
  for (size_t i = 0; i < s.size(); ++i) D[int64_t(i)][int64_t(i)] = s[i];
  return orthogonal(n, seed).mm(D).mm(orthogonal(k, seed + 1).t()).contiguous();
}

double closed_form(const std::vector<double>& s, double eps) {
  double l1 = 0, h = 0;
  for (double v : s) l1 += v;
  for (double v : s) h -= (v / l1 + eps) * std::log(v / l1 + eps);
  return std::exp(h);
}

Spectrum spec(const at::Tensor& z) { return spectrum_from_rows(z.data_ptr<double>(), z.size(0), z.size(1)); }
}  // namespace

TEST(RankMe, EqualsTheClosedFormOnKnownSpectra) {
  std::vector<double> s{5, 3, 2, 1, 0.5, 0.25, 0.1, 0.01};
  for (auto dims : {std::pair<int64_t, int64_t>{40, 8}, {8, 40}, {30, 12}}) {
    auto z = with_spectrum(s, dims.first, dims.second, 3);
    auto sp = spec(z);
    std::vector<double> expect = s;
    expect.resize(size_t(std::min(dims.first, dims.second)), 0.0);
    ASSERT_EQ(sp.singular_values.size(), expect.size());
    for (size_t i = 0; i < s.size(); ++i) EXPECT_NEAR(sp.singular_values[i], s[i], 1e-8) << i;
    // Zero singular values contribute eps log eps terms: compare with the closed form over min(N,K).
    EXPECT_NEAR(rankme(sp.singular_values), closed_form(expect, 1e-7), 1e-6);
    EXPECT_NEAR(rankme(sp.singular_values, 0.0), closed_form(s, 0.0), 1e-6);
  }
}

TEST(RankMe, InvariantToOrthogonalRotationsOfRowsAndColumns) {
  at::manual_seed(5);
  auto z = at::randn({50, 10}, at::kDouble) * at::linspace(0.1, 3, 10, at::kDouble);
  const double base = rankme(spec(z).singular_values);
  auto rotated = orthogonal(50, 7).mm(z).mm(orthogonal(10, 9)).contiguous();
  EXPECT_NEAR(rankme(spec(rotated).singular_values), base, 1e-9);
  // Not invariant to centring: RankMe is computed on the uncentred Z (a large mean changes it).
  auto shifted = (z + 10.0).contiguous();
  EXPECT_GT(std::abs(rankme(spec(shifted).singular_values) - base), 0.5);
}

TEST(RankMe, RankRDataWithEqualSingularValuesGivesR) {
  for (int64_t r : {1, 3, 7}) {
    std::vector<double> s(size_t(r), 2.0);
    auto z = with_spectrum(s, 64, 16, r);
    auto sp = spec(z);
    EXPECT_NEAR(rankme(sp.singular_values), double(r), 1e-3 * r) << r;
    EXPECT_EQ(numerical_rank(sp), r);
  }
}

TEST(RankMe, StreamingFromNpyEqualsInMemory) {
  char tmpl[] = "/tmp/jess_eval_XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  at::manual_seed(11);
  auto z = (at::randn({1000, 24}, at::kDouble) * at::linspace(0.01, 2, 24, at::kDouble)).contiguous();
  jess::write_npy(dir + "/z.npy", z.data_ptr<double>(), {1000, 24});
  auto zf = z.to(at::kFloat).contiguous();
  jess::write_npy_f32(dir + "/zf.npy", zf.data_ptr<float>(), {1000, 24});
  auto mem = spec(z);
  for (int64_t chunk : {1, 7, 128, 5000}) {
    auto st = spectrum_from_npy(dir + "/z.npy", chunk);
    ASSERT_EQ(st.singular_values.size(), mem.singular_values.size());
    for (size_t i = 0; i < st.singular_values.size(); ++i)
      EXPECT_NEAR(st.singular_values[i], mem.singular_values[i], 1e-10 * mem.singular_values[0]);
    EXPECT_NEAR(rankme(st.singular_values), rankme(mem.singular_values), 1e-9);
  }
  auto f32 = spectrum_from_npy(dir + "/zf.npy", 64);
  EXPECT_EQ(f32.dtype, "<f4");
  EXPECT_NEAR(rankme(f32.singular_values), rankme(mem.singular_values), 1e-4);
  // N < K goes through Z Z^T.
  auto wide = at::randn({6, 30}, at::kDouble).contiguous();
  jess::write_npy(dir + "/w.npy", wide.data_ptr<double>(), {6, 30});
  EXPECT_NEAR(rankme(spectrum_from_npy(dir + "/w.npy").singular_values), rankme(spec(wide).singular_values), 1e-9);
  std::vector<double> bad(20, 1.0);
  bad[7] = NAN;
  jess::write_npy(dir + "/nan.npy", bad.data(), {4, 5});
  EXPECT_THROW(spectrum_from_npy(dir + "/nan.npy"), std::invalid_argument);
  std::vector<double> v3(8, 1.0);
  jess::write_npy(dir + "/v3.npy", v3.data(), {2, 2, 2});
  EXPECT_THROW(spectrum_from_npy(dir + "/v3.npy"), jess::NpyError);
  std::system(("rm -rf " + dir).c_str());
}

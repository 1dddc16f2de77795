// Rotations and colours of the renderer against scipy / matplotlib conventions.
#include <gtest/gtest.h>

#include "jess/render/geometry.h"

using namespace jess::render;

TEST(RenderGeometry, EulerMatrixAndQuaternionAgree) {
  const std::array<double, 3> a{0.3, -1.1, 0.7};
  const Mat3 R = euler_xyz_to_matrix(a), Rq = quat_to_matrix(euler_xyz_to_quat(a));
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(R.m[i][j], Rq.m[i][j], 1e-12);
}

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

#include "jess/core/rng.h"

namespace {
// Runs python3 with `script` and returns its stdout (numbers separated by whitespace).
std::vector<double> python_numbers(const std::string& script) {
  const std::string path = "/tmp/jess_render_geometry_" + std::to_string(::getpid()) + ".py";
  std::ofstream(path) << script;
  std::FILE* p = ::popen(("/usr/bin/python3 " + path).c_str(), "r");
  std::vector<double> out;
  double v;
  while (p && std::fscanf(p, "%lf", &v) == 1) out.push_back(v);
  if (p) ::pclose(p);
  std::remove(path.c_str());
  return out;
}
}  // namespace

TEST(RenderGeometry, QuaternionsAndRelativeRotationsEqualScipys) {
  // Random angles in 3DIEBench's range and beyond; scipy computes from_euler("xyz").as_quat() and
  // (r1.inv() * r2).as_quat() — the 3DIEBench loader's target — signs included.
  jess::Rng rng(7);
  std::vector<std::array<double, 3>> a1, a2;
  std::ostringstream py;
  py.precision(17);
  py << "import numpy as np\nfrom scipy.spatial.transform import Rotation as R\n";
  for (int k = 0; k < 20; ++k) {
    const double r = k < 15 ? kPi / 2 : kPi;
    a1.push_back({rng.uniform(-r, r), rng.uniform(-r, r), rng.uniform(-r, r)});
    a2.push_back({rng.uniform(-r, r), rng.uniform(-r, r), rng.uniform(-r, r)});
    py << "r1 = R.from_euler('xyz', [" << a1[k][0] << "," << a1[k][1] << "," << a1[k][2] << "])\n";
    py << "r2 = R.from_euler('xyz', [" << a2[k][0] << "," << a2[k][1] << "," << a2[k][2] << "])\n";
    py << "print(*r1.as_quat(), *(r1.inv() * r2).as_quat(), *r1.as_matrix().ravel())\n";
  }
  const auto v = python_numbers(py.str());
  ASSERT_EQ(v.size(), 20u * 17) << "python3-scipy must be installed";
  for (int k = 0; k < 20; ++k) {
    const double* s = v.data() + k * 17;
    const Quat q1 = euler_xyz_to_quat(a1[k]), q2 = euler_xyz_to_quat(a2[k]);
    const auto q = q1.as_array(), rel = relative_rotation(q1, q2).as_array();
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(q[i], s[i], 1e-12) << "quaternion " << k;
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(rel[i], s[4 + i], 1e-12) << "relative " << k;
    const Mat3 M = euler_xyz_to_matrix(a1[k]);
    for (int i = 0; i < 9; ++i) EXPECT_NEAR(M.m[i / 3][i % 3], s[8 + i], 1e-12) << "matrix " << k;
    // And the relative rotation is R1^T R2 as a matrix.
    const Mat3 Rrel = quat_to_matrix(relative_rotation(q1, q2)), Rexp = M.transposed() * euler_xyz_to_matrix(a2[k]);
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) EXPECT_NEAR(Rrel.m[i][j], Rexp.m[i][j], 1e-12);
  }
}

TEST(RenderGeometry, HsvToRgbIsTheHexconeModel) {
  // Hand-computed: v = 0.6, s = 0.6 gives max 0.6 and min 0.24 on the sextant's channels.
  const struct { double h, r, g, b; } cases[] = {{0.0, 0.6, 0.24, 0.24}, {1.0 / 6, 0.6, 0.6, 0.24},
                                                 {1.0 / 3, 0.24, 0.6, 0.24}, {0.5, 0.24, 0.6, 0.6},
                                                 {2.0 / 3, 0.24, 0.24, 0.6}, {5.0 / 6, 0.6, 0.24, 0.6},
                                                 {1.0 / 12, 0.6, 0.42, 0.24}};
  for (const auto& c : cases) {
    const Vec3 v = hsv_to_rgb(c.h, 0.6, 0.6);
    EXPECT_NEAR(v.x, c.r, 1e-12) << c.h;
    EXPECT_NEAR(v.y, c.g, 1e-12) << c.h;
    EXPECT_NEAR(v.z, c.b, 1e-12) << c.h;
  }
  for (double h = 0; h < 1; h += 0.037) {
    const Vec3 v = hsv_to_rgb(h, 0.8, 0.9);
    EXPECT_NEAR(rgb_to_hue(v.x, v.y, v.z), h, 1e-9);
  }
}

#pragma once
// Small fixed-size linear algebra for the renderer (no torch): 3-vectors, 3×3 rotations, 4×4
// homogeneous transforms (column-major storage, as OpenGL reads them) and unit quaternions in
// scipy's (x, y, z, w) order. Rotations follow scipy.spatial.transform.Rotation exactly — the
// 3DIEBench latents are scipy's extrinsic "xyz" Euler angles and its relative rotations are
// scipy's `rot_1.inv() * rot_2` quaternions, signs included.
#include <array>
#include <cmath>

namespace jess::render {

constexpr double kPi = 3.14159265358979323846;

struct Vec3 {
  double x = 0, y = 0, z = 0;
  Vec3() = default;
  Vec3(double x_, double y_, double z_) : x(x_), y(y_), z(z_) {}
  Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  Vec3 operator-() const { return {-x, -y, -z}; }
  double operator[](int i) const { return i == 0 ? x : i == 1 ? y : z; }
};
inline double dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
inline Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline double norm(const Vec3& a) { return std::sqrt(dot(a, a)); }
inline Vec3 normalized(const Vec3& a) {
  const double n = norm(a);
  return n > 0 ? a * (1.0 / n) : a;
}
// Spherical coordinates as 3DIEBench's generator uses them: θ from +z, φ from +x in the xy plane.
inline Vec3 spherical_to_cartesian(double r, double theta, double phi) {
  return {r * std::sin(theta) * std::cos(phi), r * std::sin(theta) * std::sin(phi), r * std::cos(theta)};
}

// Row-major 3×3 matrix: m[r][c].
struct Mat3 {
  std::array<std::array<double, 3>, 3> m{{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}};
  static Mat3 identity() { return {}; }
  Vec3 operator*(const Vec3& v) const {
    return {m[0][0] * v.x + m[0][1] * v.y + m[0][2] * v.z, m[1][0] * v.x + m[1][1] * v.y + m[1][2] * v.z,
            m[2][0] * v.x + m[2][1] * v.y + m[2][2] * v.z};
  }
  Mat3 operator*(const Mat3& o) const {
    Mat3 r;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r.m[i][j] = m[i][0] * o.m[0][j] + m[i][1] * o.m[1][j] + m[i][2] * o.m[2][j];
    return r;
  }
  Mat3 transposed() const {
    Mat3 r;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) r.m[i][j] = m[j][i];
    return r;
  }
};

inline Mat3 rotation_x(double a) {
  Mat3 r;
  r.m = {{{1, 0, 0}, {0, std::cos(a), -std::sin(a)}, {0, std::sin(a), std::cos(a)}}};
  return r;
}
inline Mat3 rotation_y(double a) {
  Mat3 r;
  r.m = {{{std::cos(a), 0, std::sin(a)}, {0, 1, 0}, {-std::sin(a), 0, std::cos(a)}}};
  return r;
}
inline Mat3 rotation_z(double a) {
  Mat3 r;
  r.m = {{{std::cos(a), -std::sin(a), 0}, {std::sin(a), std::cos(a), 0}, {0, 0, 1}}};
  return r;
}
// Extrinsic xyz Euler angles (scipy "xyz", Blender's XYZ rotation_euler): rotate about the fixed x
// axis, then the fixed y, then the fixed z: R = Rz(c) Ry(b) Rx(a).
inline Mat3 euler_xyz_to_matrix(const std::array<double, 3>& a) {
  return rotation_z(a[2]) * rotation_y(a[1]) * rotation_x(a[0]);
}

// Unit quaternion, scipy's scalar-last order.
struct Quat {
  double x = 0, y = 0, z = 0, w = 1;
  std::array<double, 4> as_array() const { return {x, y, z, w}; }
};
// Hamilton product p ⊗ q (scipy's composition: (p * q) applies q first, then p).
inline Quat operator*(const Quat& p, const Quat& q) {
  return {p.w * q.x + p.x * q.w + p.y * q.z - p.z * q.y, p.w * q.y - p.x * q.z + p.y * q.w + p.z * q.x,
          p.w * q.z + p.x * q.y - p.y * q.x + p.z * q.w, p.w * q.w - p.x * q.x - p.y * q.y - p.z * q.z};
}
// scipy's inv() negates w, not (x, y, z): (x, y, z, -w) = -conj(q), the same rotation with the sign
// scipy reports (checked against scipy 1.10 in tests/test_render_geometry.cpp).
inline Quat inverse(const Quat& q) { return {q.x, q.y, q.z, -q.w}; }
inline Quat axis_angle(int axis, double angle) {
  Quat q;
  q.w = std::cos(angle / 2);
  const double s = std::sin(angle / 2);
  (axis == 0 ? q.x : axis == 1 ? q.y : q.z) = s;
  return q;
}
// scipy's Rotation.from_euler("xyz", a).as_quat(): elementary quaternions composed extrinsically,
// q = q_z ⊗ (q_y ⊗ q_x), which fixes the sign scipy reports.
inline Quat euler_xyz_to_quat(const std::array<double, 3>& a) {
  return axis_angle(2, a[2]) * (axis_angle(1, a[1]) * axis_angle(0, a[0]));
}
// The relative rotation of 3DIEBench pairs: rot_1.inv() * rot_2.
inline Quat relative_rotation(const Quat& q1, const Quat& q2) { return inverse(q1) * q2; }
inline Mat3 quat_to_matrix(const Quat& q) {
  Mat3 r;
  const double x = q.x, y = q.y, z = q.z, w = q.w;
  r.m = {{{1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)},
          {2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)},
          {2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)}}};
  return r;
}

// Column-major 4×4 matrix (OpenGL's layout): element (row r, column c) is a[c * 4 + r].
struct Mat4 {
  std::array<float, 16> a{{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
  float& at(int r, int c) { return a[c * 4 + r]; }
  float at(int r, int c) const { return a[c * 4 + r]; }
  Mat4 operator*(const Mat4& o) const {
    Mat4 r;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j) {
        double s = 0;
        for (int k = 0; k < 4; ++k) s += double(at(i, k)) * o.at(k, j);
        r.at(i, j) = float(s);
      }
    return r;
  }
  std::array<double, 4> apply(double x, double y, double z, double w = 1) const {
    std::array<double, 4> r{};
    for (int i = 0; i < 4; ++i) r[i] = at(i, 0) * x + at(i, 1) * y + at(i, 2) * z + at(i, 3) * w;
    return r;
  }
};

// Model matrix: p ↦ t + s·R p.
inline Mat4 affine(const Mat3& R, double s, const Vec3& t) {
  Mat4 m;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) m.at(i, j) = float(s * R.m[i][j]);
  m.at(0, 3) = float(t.x), m.at(1, 3) = float(t.y), m.at(2, 3) = float(t.z);
  return m;
}
// gluLookAt: the camera at `eye` looks at `center`; `up` fixes the roll.
inline Mat4 look_at(const Vec3& eye, const Vec3& center, const Vec3& up) {
  const Vec3 f = normalized(center - eye);
  Vec3 side = cross(f, up);
  if (norm(side) < 1e-9) side = cross(f, std::abs(f.x) < 0.9 ? Vec3(1, 0, 0) : Vec3(0, 1, 0));
  const Vec3 s = normalized(side), u = cross(s, f);
  Mat4 m;
  m.at(0, 0) = float(s.x), m.at(0, 1) = float(s.y), m.at(0, 2) = float(s.z), m.at(0, 3) = float(-dot(s, eye));
  m.at(1, 0) = float(u.x), m.at(1, 1) = float(u.y), m.at(1, 2) = float(u.z), m.at(1, 3) = float(-dot(u, eye));
  m.at(2, 0) = float(-f.x), m.at(2, 1) = float(-f.y), m.at(2, 2) = float(-f.z), m.at(2, 3) = float(dot(f, eye));
  return m;
}
// gluPerspective with a vertical field of view in radians.
inline Mat4 perspective(double fov_y, double aspect, double near_z, double far_z) {
  Mat4 m;
  const double f = 1.0 / std::tan(fov_y / 2);
  m.a.fill(0);
  m.at(0, 0) = float(f / aspect);
  m.at(1, 1) = float(f);
  m.at(2, 2) = float((far_z + near_z) / (near_z - far_z));
  m.at(2, 3) = float(2 * far_z * near_z / (near_z - far_z));
  m.at(3, 2) = -1;
  return m;
}

// HSV in [0, 1]³ to RGB in [0, 1]³ (matplotlib.colors.hsv_to_rgb, which 3DIEBench uses).
inline Vec3 hsv_to_rgb(double h, double s, double v) {
  h = h - std::floor(h);
  const double h6 = h * 6.0;
  const int i = int(h6) % 6;
  const double f = h6 - std::floor(h6);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch (i) {
    case 0: return {v, t, p};
    case 1: return {q, v, p};
    case 2: return {p, v, t};
    case 3: return {p, q, v};
    case 4: return {t, p, v};
    default: return {v, p, q};
  }
}
// RGB in [0, 1]³ to hue in [0, 1) (matplotlib's rgb_to_hsv hue); 0 for greys.
inline double rgb_to_hue(double r, double g, double b) {
  const double mx = std::fmax(r, std::fmax(g, b)), mn = std::fmin(r, std::fmin(g, b)), d = mx - mn;
  if (d <= 0) return 0;
  double h;
  if (mx == r) h = (g - b) / d;
  else if (mx == g) h = 2 + (b - r) / d;
  else h = 4 + (r - g) / d;
  h /= 6;
  return h - std::floor(h);
}

}  // namespace jess::render

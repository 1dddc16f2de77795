#pragma once
// Headless OpenGL rendering of one object in a lit scene, on Mesa's off-screen OSMesa (llvmpipe on
// the CPU; OpenGL 4.5 core profile). The scene is 3DIEBench's (Garrido et al. 2023, data/main.py):
// the object, normalised to a unit bounding-box diagonal, at the origin; a floor plane at z = −1;
// a camera at distance 2.5, θ = π/4, φ = π/2 looking at the origin with Blender's default 50 mm lens
// (39.6° field of view); a sun from above and a spot light on the sphere of radius 4 that casts a
// shadow (shadow map, percentage-closer filtered). Shading is per pixel (Lambert + Blinn–Phong) in
// linear light; colours are given and returned display-encoded (gamma 2.2), so a matte surface under
// white light keeps its hue exactly. The robustness factors — size, position in the frame,
// background (plain colour or an image instead of the floor), light colour and intensity — are
// fields of the same Scene. No torch here: any package may use the renderer.
#include <array>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "jess/core/image_io.h"
#include "jess/render/geometry.h"
#include "jess/render/mesh.h"

namespace jess::render {

class RenderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RenderOptions {
  int size = 128;          // square images of size × size pixels
  int samples = 4;         // multisample anti-aliasing (1 = off; the dataset commands default to 1 for speed)
  // Shadow map texels per side; 0 = twice the image side within [256, 2048] (the spot's cone spans
  // about half the frame, so that is ~4 texels per pixel of lit floor).
  int shadow_map = 0;
  double fov_degrees = 39.6;  // Blender's default camera: 50 mm lens on a 36 mm sensor
  double camera_distance = 2.5, camera_theta = kPi / 4, camera_phi = kPi / 2;
};

struct Scene {
  // The object: p ↦ shift + scale · R p, the shift chosen so that the object's centre lands
  // `position` away from the image centre (fractions of the image width, +x right, +y down).
  Mat3 rotation;
  double scale = 1.0;
  std::array<double, 2> position{0, 0};

  // Background: 3DIEBench's floor plane at z = −1 in `floor_color`, or (floor = false) a plain
  // `background_color`, or the image set with Renderer::set_background_image (use_background_image).
  bool floor = true;
  Vec3 floor_color{0.6, 0.36, 0.24};
  Vec3 background_color{0.5, 0.5, 0.5};
  bool use_background_image = false;

  // Lights (colours display-encoded like albedos; intensities relative: 1 = the default look).
  bool spot = true;
  double spot_theta = 0, spot_phi = 0, spot_radius = 4;
  double spot_half_angle = kPi / 16;  // Blender spot_size π/8 is the full cone angle
  double spot_blend = 0.15;           // soft edge, as Blender's default spot_blend
  Vec3 spot_color{1, 1, 1};
  double spot_intensity = 1.0;
  bool sun = true;
  Vec3 sun_direction{0, 0, -1};  // direction the light travels (Blender's default sun points down)
  Vec3 sun_color{1, 1, 1};
  double sun_intensity = 1.0;
  double ambient = 0.25;
  bool shadows = true;
};

class Renderer {
 public:
  explicit Renderer(const RenderOptions& options = {});
  ~Renderer();
  Renderer(const Renderer&) = delete;
  Renderer& operator=(const Renderer&) = delete;

  const RenderOptions& options() const { return options_; }
  // Uploads the object (validated; it is drawn as given: normalise it first).
  void set_object(const Mesh& mesh);
  // Uploads an image shown behind the object when Scene::use_background_image is set (scaled to
  // cover the frame, centre-cropped).
  void set_background_image(const Image8& image);
  // Renders the scene: size × size × 3 bytes, top row first.
  Image8 render(const Scene& scene);
  void render_into(const Scene& scene, uint8_t* rgb);

  // Where a world point lands in the image (pixels, x right, y down, pixel centres at k + 0.5).
  std::array<double, 2> project(const Vec3& world) const;
  // The object's world transform for a scene (what the vertex shader applies).
  Mat4 model_matrix(const Scene& scene) const;
  Vec3 camera_position() const;
  // "OpenGL 4.5 (Core Profile) Mesa 22.3.6 | llvmpipe (LLVM 15.0.6, 256 bits)"
  std::string gl_description() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  RenderOptions options_;
};

}  // namespace jess::render

// The OSMesa renderer: one off-screen OpenGL 4.5 core context per Renderer, drawing into its own
// framebuffer objects (a multisampled colour + depth target, a resolve target for read-back, and a
// depth texture for the spot light's shadow map), so the context's own buffer is a 1×1 dummy.
#define GL_GLEXT_PROTOTYPES 1
#include "jess/render/renderer.h"

#include <GL/osmesa.h>
#include <GL/gl.h>
#include <GL/glext.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <vector>

namespace jess::render {

namespace {

const char* kObjectVertexShader = R"(#version 330 core
layout(location = 0) in vec3 position;
layout(location = 1) in vec3 normal;
layout(location = 2) in vec3 color;
layout(location = 3) in float specular;
uniform mat4 model;
uniform mat3 normal_matrix;
uniform mat4 view_projection;
uniform mat4 light_view_projection;
out vec3 world_position;
out vec3 world_normal;
out vec3 albedo;
out float gloss;
out vec4 light_space;
void main() {
  vec4 w = model * vec4(position, 1.0);
  world_position = w.xyz;
  world_normal = normal_matrix * normal;
  // Display-encoded albedo to linear light (gamma 2.2), so lighting is physical and the output,
  // encoded back, keeps a matte surface's hue under white light.
  albedo = pow(clamp(color, 0.0, 1.0), vec3(2.2));
  gloss = specular;
  light_space = light_view_projection * w;
  gl_Position = view_projection * w;
}
)";

const char* kObjectFragmentShader = R"(#version 330 core
in vec3 world_position;
in vec3 world_normal;
in vec3 albedo;
in float gloss;
in vec4 light_space;
uniform vec3 camera_position;
uniform int spot_on;
uniform vec3 spot_position;
uniform vec3 spot_axis;
uniform vec3 spot_radiance;
uniform float spot_cos_outer;
uniform float spot_cos_inner;
uniform float spot_reference_distance;
uniform int sun_on;
uniform vec3 sun_direction;
uniform vec3 sun_radiance;
uniform vec3 ambient;
uniform int shadows_on;
uniform sampler2DShadow shadow_map;
uniform float shadow_texel;
out vec4 frag_color;

float shadow_factor(vec3 n, vec3 l) {
  if (shadows_on == 0) return 1.0;
  vec3 p = light_space.xyz / light_space.w * 0.5 + 0.5;
  if (p.x <= 0.0 || p.x >= 1.0 || p.y <= 0.0 || p.y >= 1.0 || p.z >= 1.0) return 1.0;
  float bias = max(0.0025 * (1.0 - dot(n, l)), 0.0005);
  // 2×2 percentage-closer filtering at half-texel offsets: each tap is itself bilinearly filtered by
  // the comparison sampler, so four taps give a 3×3-texel soft edge at half the cost of nine.
  float lit = 0.0;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 2; ++j)
      lit += texture(shadow_map, vec3(p.xy + (vec2(i, j) - 0.5) * shadow_texel, p.z - bias));
  return lit * 0.25;
}

void main() {
  vec3 n = normalize(world_normal);
  vec3 v = normalize(camera_position - world_position);
  if (dot(n, v) < 0.0) n = -n;  // two-sided: open meshes (a lathe's rim) are lit from either side
  vec3 c = ambient * albedo;
  if (sun_on != 0) {
    vec3 l = -sun_direction;
    c += sun_radiance * albedo * max(dot(n, l), 0.0);
  }
  if (spot_on != 0) {
    vec3 d = spot_position - world_position;
    float dist = length(d);
    vec3 l = d / dist;
    float cos_axis = dot(-l, spot_axis);
    float cone = smoothstep(spot_cos_outer, spot_cos_inner, cos_axis);
    float ndl = max(dot(n, l), 0.0);
    if (cone > 0.0 && ndl > 0.0) {
      float falloff = (spot_reference_distance * spot_reference_distance) / (dist * dist);
      float spec = 0.0;
      if (gloss > 0.0) spec = gloss * pow(max(dot(n, normalize(l + v)), 0.0), 48.0) * ndl;
      c += spot_radiance * cone * falloff * shadow_factor(n, l) * (albedo * ndl + vec3(spec));
    }
  }
  frag_color = vec4(pow(clamp(c, 0.0, 1.0), vec3(1.0 / 2.2)), 1.0);
}
)";

const char* kDepthVertexShader = R"(#version 330 core
layout(location = 0) in vec3 position;
uniform mat4 model;
uniform mat4 light_view_projection;
void main() { gl_Position = light_view_projection * model * vec4(position, 1.0); }
)";

const char* kDepthFragmentShader = R"(#version 330 core
void main() {}
)";

// A full-screen triangle pair showing the background image (cover-cropped by the uv transform).
const char* kBackgroundVertexShader = R"(#version 330 core
layout(location = 0) in vec2 corner;
uniform vec4 uv_transform;  // uv = corner01 * scale + offset
out vec2 uv;
void main() {
  vec2 c01 = corner * 0.5 + 0.5;
  uv = c01 * uv_transform.xy + uv_transform.zw;
  gl_Position = vec4(corner, 1.0, 1.0);
}
)";

const char* kBackgroundFragmentShader = R"(#version 330 core
in vec2 uv;
uniform sampler2D image;
out vec4 frag_color;
void main() { frag_color = vec4(texture(image, uv).rgb, 1.0); }
)";

GLuint compile(GLenum kind, const char* source, const char* name) {
  GLuint s = glCreateShader(kind);
  glShaderSource(s, 1, &source, nullptr);
  glCompileShader(s);
  GLint ok = 0;
  glGetShaderiv(s, GL_COMPILE_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetShaderInfoLog(s, sizeof log, nullptr, log);
    throw RenderError(std::string("renderer: shader '") + name + "' does not compile: " + log);
  }
  return s;
}

GLuint link(const char* vs, const char* fs, const char* name) {
  GLuint v = compile(GL_VERTEX_SHADER, vs, name), f = compile(GL_FRAGMENT_SHADER, fs, name);
  GLuint p = glCreateProgram();
  glAttachShader(p, v);
  glAttachShader(p, f);
  glLinkProgram(p);
  glDeleteShader(v);
  glDeleteShader(f);
  GLint ok = 0;
  glGetProgramiv(p, GL_LINK_STATUS, &ok);
  if (!ok) {
    char log[2048];
    glGetProgramInfoLog(p, sizeof log, nullptr, log);
    throw RenderError(std::string("renderer: program '") + name + "' does not link: " + log);
  }
  return p;
}

Vec3 to_linear(const Vec3& c) {
  auto f = [](double x) { return std::pow(std::fmin(std::fmax(x, 0.0), 1.0), 2.2); };
  return {f(c.x), f(c.y), f(c.z)};
}

void check_gl(const char* where) {
  const GLenum e = glGetError();
  if (e != GL_NO_ERROR) throw RenderError(std::string("renderer: OpenGL error ") + std::to_string(e) + " in " + where);
}

// Radiance scales chosen so the default scene reads like 3DIEBench's renders: the spot (Blender 500 W
// at 4 m) about 1.7× the sun (1.5), the floor mid-grey-to-bright under both.
constexpr double kSunRadiance = 1.05;
constexpr double kSpotRadiance = 1.8;

}  // namespace

struct Renderer::Impl {
  OSMesaContext context = nullptr;
  std::vector<unsigned char> dummy = std::vector<unsigned char>(4);
  GLuint object_program = 0, depth_program = 0, background_program = 0;
  GLuint object_vao = 0, object_vbo = 0, object_ebo = 0;
  GLsizei object_indices = 0;
  GLuint floor_vao = 0, floor_vbo = 0, floor_ebo = 0;
  GLuint quad_vao = 0, quad_vbo = 0;
  GLuint msaa_fbo = 0, msaa_color = 0, msaa_depth = 0;
  GLuint resolve_fbo = 0, resolve_color = 0;
  GLuint shadow_fbo = 0, shadow_texture = 0;
  GLuint background_texture = 0;
  int background_width = 0, background_height = 0;
  Mat4 view, projection;
  Vec3 camera, camera_right, camera_up;
  bool has_object = false;
  // Uniform locations, looked up once per (program, name): the per-frame lookups were measurable.
  std::vector<std::pair<std::pair<GLuint, const char*>, GLint>> uniforms;
  GLint uniform(GLuint program, const char* name) {
    for (const auto& u : uniforms)
      if (u.first.first == program && u.first.second == name) return u.second;
    const GLint location = glGetUniformLocation(program, name);
    uniforms.push_back({{program, name}, location});
    return location;
  }

  void make_current() {
    // Re-binding an already current context is not free (it re-validates the drawable).
    if (OSMesaGetCurrentContext() == context) return;
    if (!OSMesaMakeCurrent(context, dummy.data(), GL_UNSIGNED_BYTE, 1, 1))
      throw RenderError("renderer: OSMesaMakeCurrent failed");
  }
};

namespace {
void upload_vertices(GLuint vao, GLuint vbo, GLuint ebo, const Mesh& mesh) {
  glBindVertexArray(vao);
  glBindBuffer(GL_ARRAY_BUFFER, vbo);
  glBufferData(GL_ARRAY_BUFFER, GLsizeiptr(mesh.vertices.size() * sizeof(Vertex)), mesh.vertices.data(), GL_STATIC_DRAW);
  glBindBuffer(GL_ELEMENT_ARRAY_BUFFER, ebo);
  glBufferData(GL_ELEMENT_ARRAY_BUFFER, GLsizeiptr(mesh.indices.size() * sizeof(uint32_t)), mesh.indices.data(), GL_STATIC_DRAW);
  const GLsizei stride = sizeof(Vertex);
  glEnableVertexAttribArray(0);
  glVertexAttribPointer(0, 3, GL_FLOAT, GL_FALSE, stride, reinterpret_cast<void*>(offsetof(Vertex, position)));
  glEnableVertexAttribArray(1);
  glVertexAttribPointer(1, 3, GL_FLOAT, GL_FALSE, stride, reinterpret_cast<void*>(offsetof(Vertex, normal)));
  glEnableVertexAttribArray(2);
  glVertexAttribPointer(2, 3, GL_FLOAT, GL_FALSE, stride, reinterpret_cast<void*>(offsetof(Vertex, color)));
  glEnableVertexAttribArray(3);
  glVertexAttribPointer(3, 1, GL_FLOAT, GL_FALSE, stride, reinterpret_cast<void*>(offsetof(Vertex, specular)));
  glBindVertexArray(0);
}

// One process-wide lock: OSMesa's context creation is not documented as thread safe.
std::mutex& context_mutex() {
  static std::mutex m;
  return m;
}
}  // namespace

Renderer::Renderer(const RenderOptions& options) : impl_(std::make_unique<Impl>()), options_(options) {
  if (options_.size < 8 || options_.size > 4096)
    throw RenderError("renderer: image size must be in [8, 4096], got " + std::to_string(options_.size));
  if (options_.samples < 1 || options_.samples > 16)
    throw RenderError("renderer: samples must be in [1, 16], got " + std::to_string(options_.samples));
  if (options_.shadow_map == 0) options_.shadow_map = std::clamp(2 * options_.size, 256, 2048);
  if (options_.shadow_map < 16 || options_.shadow_map > 8192)
    throw RenderError("renderer: shadow_map must be 0 (auto) or in [16, 8192], got " + std::to_string(options_.shadow_map));
  if (!(options_.fov_degrees > 1 && options_.fov_degrees < 170))
    throw RenderError("renderer: fov_degrees must be in (1, 170)");
  {
    std::lock_guard<std::mutex> lock(context_mutex());
    const int attribs[] = {OSMESA_FORMAT, OSMESA_RGBA, OSMESA_DEPTH_BITS, 0, OSMESA_PROFILE, OSMESA_CORE_PROFILE,
                           OSMESA_CONTEXT_MAJOR_VERSION, 3, OSMESA_CONTEXT_MINOR_VERSION, 3, 0};
    impl_->context = OSMesaCreateContextAttribs(attribs, nullptr);
  }
  if (!impl_->context)
    throw RenderError("renderer: could not create an OSMesa OpenGL 3.3 core context (is Mesa's libosmesa6 installed?)");
  Impl& m = *impl_;
  m.make_current();
  m.object_program = link(kObjectVertexShader, kObjectFragmentShader, "object");
  m.depth_program = link(kDepthVertexShader, kDepthFragmentShader, "shadow depth");
  m.background_program = link(kBackgroundVertexShader, kBackgroundFragmentShader, "background");

  GLuint vaos[3], vbos[3], ebos[2];
  glGenVertexArrays(3, vaos);
  glGenBuffers(3, vbos);
  glGenBuffers(2, ebos);
  m.object_vao = vaos[0], m.floor_vao = vaos[1], m.quad_vao = vaos[2];
  m.object_vbo = vbos[0], m.floor_vbo = vbos[1], m.quad_vbo = vbos[2];
  m.object_ebo = ebos[0], m.floor_ebo = ebos[1];

  // The floor: 3DIEBench's plane at z = −1 (Blender: 10,000 m; 80 m covers the camera's view, whose
  // top ray meets the floor ~6 m away). Its colour is a uniform, so the mesh is neutral white.
  Mesh floor;
  const float F = 40.0f;
  const float corners[4][2] = {{-F, -F}, {F, -F}, {F, F}, {-F, F}};
  for (auto& c : corners) floor.vertices.push_back(Vertex{{c[0], c[1], -1.0f}, {0, 0, 1}, {1, 1, 1}, 0.0f});
  floor.indices = {0, 1, 2, 0, 2, 3};
  upload_vertices(m.floor_vao, m.floor_vbo, m.floor_ebo, floor);

  const float quad[12] = {-1, -1, 1, -1, 1, 1, -1, -1, 1, 1, -1, 1};
  glBindVertexArray(m.quad_vao);
  glBindBuffer(GL_ARRAY_BUFFER, m.quad_vbo);
  glBufferData(GL_ARRAY_BUFFER, sizeof quad, quad, GL_STATIC_DRAW);
  glEnableVertexAttribArray(0);
  glVertexAttribPointer(0, 2, GL_FLOAT, GL_FALSE, 0, nullptr);
  glBindVertexArray(0);

  const int S = options_.size;
  glGenFramebuffers(1, &m.msaa_fbo);
  glGenRenderbuffers(1, &m.msaa_color);
  glGenRenderbuffers(1, &m.msaa_depth);
  glBindRenderbuffer(GL_RENDERBUFFER, m.msaa_color);
  glRenderbufferStorageMultisample(GL_RENDERBUFFER, options_.samples > 1 ? options_.samples : 0, GL_RGBA8, S, S);
  glBindRenderbuffer(GL_RENDERBUFFER, m.msaa_depth);
  glRenderbufferStorageMultisample(GL_RENDERBUFFER, options_.samples > 1 ? options_.samples : 0, GL_DEPTH_COMPONENT24, S, S);
  glBindFramebuffer(GL_FRAMEBUFFER, m.msaa_fbo);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, m.msaa_color);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_RENDERBUFFER, m.msaa_depth);
  if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
    throw RenderError("renderer: the multisampled framebuffer is incomplete (samples " + std::to_string(options_.samples) + ")");

  glGenFramebuffers(1, &m.resolve_fbo);
  glGenRenderbuffers(1, &m.resolve_color);
  glBindRenderbuffer(GL_RENDERBUFFER, m.resolve_color);
  glRenderbufferStorage(GL_RENDERBUFFER, GL_RGBA8, S, S);
  glBindFramebuffer(GL_FRAMEBUFFER, m.resolve_fbo);
  glFramebufferRenderbuffer(GL_FRAMEBUFFER, GL_COLOR_ATTACHMENT0, GL_RENDERBUFFER, m.resolve_color);
  if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
    throw RenderError("renderer: the resolve framebuffer is incomplete");

  glGenFramebuffers(1, &m.shadow_fbo);
  glGenTextures(1, &m.shadow_texture);
  glBindTexture(GL_TEXTURE_2D, m.shadow_texture);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_DEPTH_COMPONENT24, options_.shadow_map, options_.shadow_map, 0, GL_DEPTH_COMPONENT,
               GL_FLOAT, nullptr);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_COMPARE_MODE, GL_COMPARE_REF_TO_TEXTURE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_COMPARE_FUNC, GL_LEQUAL);
  glBindFramebuffer(GL_FRAMEBUFFER, m.shadow_fbo);
  glFramebufferTexture2D(GL_FRAMEBUFFER, GL_DEPTH_ATTACHMENT, GL_TEXTURE_2D, m.shadow_texture, 0);
  glDrawBuffer(GL_NONE);
  glReadBuffer(GL_NONE);
  if (glCheckFramebufferStatus(GL_FRAMEBUFFER) != GL_FRAMEBUFFER_COMPLETE)
    throw RenderError("renderer: the shadow-map framebuffer is incomplete");
  glBindFramebuffer(GL_FRAMEBUFFER, 0);

  glGenTextures(1, &m.background_texture);

  m.camera = spherical_to_cartesian(options_.camera_distance, options_.camera_theta, options_.camera_phi);
  m.view = look_at(m.camera, {0, 0, 0}, {0, 0, 1});
  m.projection = perspective(options_.fov_degrees * kPi / 180.0, 1.0, 0.05, 100.0);
  m.camera_right = {m.view.at(0, 0), m.view.at(0, 1), m.view.at(0, 2)};
  m.camera_up = {m.view.at(1, 0), m.view.at(1, 1), m.view.at(1, 2)};
  check_gl("set-up");
}

Renderer::~Renderer() {
  if (impl_ && impl_->context) {
    std::lock_guard<std::mutex> lock(context_mutex());
    OSMesaDestroyContext(impl_->context);
  }
}

std::string Renderer::gl_description() const {
  impl_->make_current();
  return std::string("OpenGL ") + reinterpret_cast<const char*>(glGetString(GL_VERSION)) + " | " +
         reinterpret_cast<const char*>(glGetString(GL_RENDERER));
}

void Renderer::set_object(const Mesh& mesh) {
  mesh.validate("renderer object");
  impl_->make_current();
  upload_vertices(impl_->object_vao, impl_->object_vbo, impl_->object_ebo, mesh);
  impl_->object_indices = GLsizei(mesh.indices.size());
  impl_->has_object = true;
  check_gl("set_object");
}

void Renderer::set_background_image(const Image8& image) {
  if (image.width <= 0 || image.height <= 0 || (image.channels != 3 && image.channels != 4) ||
      image.pixels.size() != size_t(image.width) * image.height * image.channels)
    throw RenderError("renderer: a background image must be RGB or RGBA with width × height × channels bytes");
  impl_->make_current();
  glBindTexture(GL_TEXTURE_2D, impl_->background_texture);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  // Rows arrive top first; OpenGL's t axis points up, so row 0 is stored at t = 1 by flipping v below.
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB8, image.width, image.height, 0, image.channels == 4 ? GL_RGBA : GL_RGB,
               GL_UNSIGNED_BYTE, image.pixels.data());
  glGenerateMipmap(GL_TEXTURE_2D);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR_MIPMAP_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  impl_->background_width = image.width;
  impl_->background_height = image.height;
  check_gl("set_background_image");
}

Vec3 Renderer::camera_position() const { return impl_->camera; }

Mat4 Renderer::model_matrix(const Scene& scene) const {
  // The shift lies in the plane through the origin facing the camera; at that depth one image width
  // spans 2 d tan(fov/2) world units, so the object's centre moves by `position` image widths.
  const double half_width = options_.camera_distance * std::tan(options_.fov_degrees * kPi / 360.0);
  const Vec3 shift = impl_->camera_right * (2 * half_width * scene.position[0]) - impl_->camera_up * (2 * half_width * scene.position[1]);
  return affine(scene.rotation, scene.scale, shift);
}

std::array<double, 2> Renderer::project(const Vec3& world) const {
  const Mat4 vp = impl_->projection * impl_->view;
  const auto c = vp.apply(world.x, world.y, world.z);
  const double S = options_.size;
  return {(c[0] / c[3] * 0.5 + 0.5) * S, (0.5 - c[1] / c[3] * 0.5) * S};
}

Image8 Renderer::render(const Scene& scene) {
  Image8 out;
  out.width = out.height = options_.size;
  out.channels = 3;
  out.pixels.resize(size_t(options_.size) * options_.size * 3);
  render_into(scene, out.pixels.data());
  return out;
}

void Renderer::render_into(const Scene& scene, uint8_t* rgb) {
  Impl& m = *impl_;
  if (!m.has_object) throw RenderError("renderer: render() before set_object()");
  if (!(scene.scale > 0) || !std::isfinite(scene.scale))
    throw RenderError("renderer: the object's scale must be positive, got " + std::to_string(scene.scale));
  if (scene.use_background_image && m.background_width == 0)
    throw RenderError("renderer: use_background_image without set_background_image()");
  m.make_current();
  const int S = options_.size;
  const Mat4 model = model_matrix(scene);
  // Normals transform with the inverse transpose; for s·R that is R/s, and normalisation in the
  // shader removes the 1/s.
  float normal_matrix[9];
  for (int c = 0; c < 3; ++c)
    for (int r = 0; r < 3; ++r) normal_matrix[c * 3 + r] = float(scene.rotation.m[r][c]);

  const Vec3 spot_position = spherical_to_cartesian(scene.spot_radius, scene.spot_theta, scene.spot_phi);
  const Vec3 spot_axis = normalized(-spot_position);
  // The shadow frustum covers the spot's cone with a margin (the cone's soft edge).
  const double cone = scene.spot_half_angle * (1 + scene.spot_blend) + 0.05;
  const Mat4 light_vp = perspective(std::fmin(2 * cone, kPi * 0.95), 1.0, 0.5, 60.0) *
                        look_at(spot_position, {0, 0, 0}, {0, 0, 1});
  const bool shadows = scene.shadows && scene.spot && scene.spot_intensity > 0;

  glEnable(GL_DEPTH_TEST);
  glDisable(GL_CULL_FACE);
  if (shadows) {
    glBindFramebuffer(GL_FRAMEBUFFER, m.shadow_fbo);
    glViewport(0, 0, options_.shadow_map, options_.shadow_map);
    glClear(GL_DEPTH_BUFFER_BIT);
    glUseProgram(m.depth_program);
    glUniformMatrix4fv(m.uniform(m.depth_program, "light_view_projection"), 1, GL_FALSE, light_vp.a.data());
    glUniformMatrix4fv(m.uniform(m.depth_program, "model"), 1, GL_FALSE, model.a.data());
    glBindVertexArray(m.object_vao);
    glDrawElements(GL_TRIANGLES, m.object_indices, GL_UNSIGNED_INT, nullptr);
  }

  glBindFramebuffer(GL_FRAMEBUFFER, m.msaa_fbo);
  glViewport(0, 0, S, S);
  const Vec3 bg = scene.floor ? Vec3(0, 0, 0) : scene.background_color;
  glClearColor(float(bg.x), float(bg.y), float(bg.z), 1.0f);
  glClear(GL_COLOR_BUFFER_BIT | GL_DEPTH_BUFFER_BIT);
  if (!scene.floor && scene.use_background_image) {
    glDisable(GL_DEPTH_TEST);
    glUseProgram(m.background_program);
    // Cover-crop: the shorter side of the image fills the frame; v runs up while rows run down.
    const double aspect = double(m.background_width) / m.background_height;
    float su = 1, sv = 1;
    if (aspect > 1) su = float(1 / aspect); else sv = float(aspect);
    glUniform4f(m.uniform(m.background_program, "uv_transform"), su, -sv, (1 - su) / 2, 1 - (1 - sv) / 2);
    glActiveTexture(GL_TEXTURE0);
    glBindTexture(GL_TEXTURE_2D, m.background_texture);
    glUniform1i(m.uniform(m.background_program, "image"), 0);
    glBindVertexArray(m.quad_vao);
    glDrawArrays(GL_TRIANGLES, 0, 6);
    glEnable(GL_DEPTH_TEST);
  }

  const GLuint p = m.object_program;
  glUseProgram(p);
  const Mat4 vp = m.projection * m.view;
  glUniformMatrix4fv(m.uniform(p, "view_projection"), 1, GL_FALSE, vp.a.data());
  glUniformMatrix4fv(m.uniform(p, "light_view_projection"), 1, GL_FALSE, light_vp.a.data());
  glUniform3f(m.uniform(p, "camera_position"), float(m.camera.x), float(m.camera.y), float(m.camera.z));
  glUniform1i(m.uniform(p, "spot_on"), scene.spot ? 1 : 0);
  glUniform3f(m.uniform(p, "spot_position"), float(spot_position.x), float(spot_position.y), float(spot_position.z));
  glUniform3f(m.uniform(p, "spot_axis"), float(spot_axis.x), float(spot_axis.y), float(spot_axis.z));
  const Vec3 spot_rad = to_linear(scene.spot_color) * (kSpotRadiance * scene.spot_intensity);
  glUniform3f(m.uniform(p, "spot_radiance"), float(spot_rad.x), float(spot_rad.y), float(spot_rad.z));
  glUniform1f(m.uniform(p, "spot_cos_outer"), float(std::cos(scene.spot_half_angle * (1 + scene.spot_blend))));
  glUniform1f(m.uniform(p, "spot_cos_inner"), float(std::cos(scene.spot_half_angle * (1 - scene.spot_blend))));
  glUniform1f(m.uniform(p, "spot_reference_distance"), float(scene.spot_radius));
  glUniform1i(m.uniform(p, "sun_on"), scene.sun ? 1 : 0);
  const Vec3 sun_dir = normalized(scene.sun_direction);
  glUniform3f(m.uniform(p, "sun_direction"), float(sun_dir.x), float(sun_dir.y), float(sun_dir.z));
  const Vec3 sun_rad = to_linear(scene.sun_color) * (kSunRadiance * scene.sun_intensity);
  glUniform3f(m.uniform(p, "sun_radiance"), float(sun_rad.x), float(sun_rad.y), float(sun_rad.z));
  // Ambient light follows the key lights' colour where a scene changes it (the robustness "lighting
  // colour" factor tints the whole scene, as a coloured environment would).
  const Vec3 amb = to_linear(scene.sun ? scene.sun_color : scene.spot_color) * (scene.ambient * scene.sun_intensity);
  glUniform3f(m.uniform(p, "ambient"), float(amb.x), float(amb.y), float(amb.z));
  glUniform1i(m.uniform(p, "shadows_on"), shadows ? 1 : 0);
  glUniform1f(m.uniform(p, "shadow_texel"), float(1.0 / options_.shadow_map));
  glActiveTexture(GL_TEXTURE1);
  glBindTexture(GL_TEXTURE_2D, m.shadow_texture);
  glUniform1i(m.uniform(p, "shadow_map"), 1);

  float nm_identity[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
  if (scene.floor) {
    Mat4 identity;
    glUniformMatrix4fv(m.uniform(p, "model"), 1, GL_FALSE, identity.a.data());
    glUniformMatrix3fv(m.uniform(p, "normal_matrix"), 1, GL_FALSE, nm_identity);
    // The floor's colour replaces the white vertex colour through a constant attribute.
    glBindVertexArray(m.floor_vao);
    glDisableVertexAttribArray(2);
    glVertexAttrib3f(2, float(scene.floor_color.x), float(scene.floor_color.y), float(scene.floor_color.z));
    glDrawElements(GL_TRIANGLES, 6, GL_UNSIGNED_INT, nullptr);
    glEnableVertexAttribArray(2);
  }
  glUniformMatrix4fv(m.uniform(p, "model"), 1, GL_FALSE, model.a.data());
  glUniformMatrix3fv(m.uniform(p, "normal_matrix"), 1, GL_FALSE, normal_matrix);
  glBindVertexArray(m.object_vao);
  glDrawElements(GL_TRIANGLES, m.object_indices, GL_UNSIGNED_INT, nullptr);

  glBindFramebuffer(GL_READ_FRAMEBUFFER, m.msaa_fbo);
  glBindFramebuffer(GL_DRAW_FRAMEBUFFER, m.resolve_fbo);
  glBlitFramebuffer(0, 0, S, S, 0, 0, S, S, GL_COLOR_BUFFER_BIT, GL_NEAREST);
  glBindFramebuffer(GL_READ_FRAMEBUFFER, m.resolve_fbo);
  glPixelStorei(GL_PACK_ALIGNMENT, 1);
  // Read bottom-up and flip rows so row 0 is the top of the image.
  static thread_local std::vector<uint8_t> rows;
  rows.resize(size_t(S) * S * 3);
  glReadPixels(0, 0, S, S, GL_RGB, GL_UNSIGNED_BYTE, rows.data());
  const size_t stride = size_t(S) * 3;
  for (int y = 0; y < S; ++y) std::memcpy(rgb + size_t(y) * stride, rows.data() + size_t(S - 1 - y) * stride, stride);
  glBindFramebuffer(GL_FRAMEBUFFER, 0);
  check_gl("render");
}

}  // namespace jess::render

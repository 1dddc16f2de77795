#include "jess/render/mesh_io.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <assimp/Exporter.hpp>
#include <assimp/Importer.hpp>
#include <assimp/config.h>
#include <assimp/material.h>
#include <assimp/postprocess.h>
#include <assimp/scene.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <system_error>

namespace jess::render {
namespace fs = std::filesystem;

namespace {

std::string quoted(const std::string& s) { return "'" + s + "'"; }

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return ext;
}

// glTF stores colours linearly; Mesh holds them display-encoded (gamma 2.2, the renderer's convention).
bool stores_linear_colours(const std::string& extension) { return extension == "gltf" || extension == "glb"; }
float linear_to_display(float c) { return std::pow(std::clamp(c, 0.0f, 1.0f), 1.0f / 2.2f); }
float display_to_linear(float c) { return std::pow(std::clamp(c, 0.0f, 1.0f), 2.2f); }

// The diffuse colour of a real material; false for none or assimp's placeholder.
bool material_diffuse(const aiScene* scene, unsigned index, aiColor3D& colour) {
  if (index >= scene->mNumMaterials || !scene->mMaterials[index]) return false;
  const aiMaterial* material = scene->mMaterials[index];
  aiString name;
  if (material->Get(AI_MATKEY_NAME, name) == AI_SUCCESS && std::string(name.C_Str()) == AI_DEFAULT_MATERIAL_NAME)
    return false;
  return material->Get(AI_MATKEY_COLOR_DIFFUSE, colour) == AI_SUCCESS;
}

bool usable_normal(const float n[3]) {
  const float len2 = n[0] * n[0] + n[1] * n[1] + n[2] * n[2];
  return std::isfinite(len2) && len2 > 1e-20f;
}

// Gives vertices whose normal is missing, zero or not finite (assimp leaves such normals on
// degenerate faces) the area-weighted normal of their triangles, or +z if those are degenerate too.
void repair_normals(Mesh& mesh) {
  std::vector<char> bad(mesh.vertices.size(), 0);
  bool any = false;
  for (size_t i = 0; i < mesh.vertices.size(); ++i)
    if (!usable_normal(mesh.vertices[i].normal)) bad[i] = 1, any = true;
  if (!any) return;
  std::vector<Vec3> sum(mesh.vertices.size());
  for (size_t t = 0; t + 2 < mesh.indices.size(); t += 3) {
    const uint32_t a = mesh.indices[t], b = mesh.indices[t + 1], c = mesh.indices[t + 2];
    auto pos = [&](uint32_t i) {
      const float* p = mesh.vertices[i].position;
      return Vec3(p[0], p[1], p[2]);
    };
    const Vec3 n = cross(pos(b) - pos(a), pos(c) - pos(a));  // length = twice the area
    for (uint32_t i : {a, b, c})
      if (bad[i]) sum[i] = sum[i] + n;
  }
  for (size_t i = 0; i < mesh.vertices.size(); ++i) {
    if (!bad[i]) continue;
    const double len = norm(sum[i]);
    const Vec3 n = std::isfinite(len) && len > 0 ? sum[i] * (1.0 / len) : Vec3(0, 0, 1);
    mesh.vertices[i].normal[0] = float(n.x);
    mesh.vertices[i].normal[1] = float(n.y);
    mesh.vertices[i].normal[2] = float(n.z);
  }
}

// Throws for faces without vertices or with out-of-range indices, and sets each mesh's primitive
// types from its faces (the post-processing steps trust them).
void check_faces(const aiScene* scene) {
  for (unsigned m = 0; m < scene->mNumMeshes; ++m) {
    aiMesh* mesh = scene->mMeshes[m];
    if (!mesh) continue;
    unsigned types = 0;
    for (unsigned f = 0; f < mesh->mNumFaces; ++f) {
      const aiFace& face = mesh->mFaces[f];
      if (face.mNumIndices == 0 || !face.mIndices) throw MeshError("face " + std::to_string(f) + " has no vertices");
      for (unsigned k = 0; k < face.mNumIndices; ++k)
        if (face.mIndices[k] >= mesh->mNumVertices)
          throw MeshError("face " + std::to_string(f) + " refers to vertex " + std::to_string(face.mIndices[k]) +
                          " of " + std::to_string(mesh->mNumVertices));
      types |= face.mNumIndices == 1   ? aiPrimitiveType_POINT
               : face.mNumIndices == 2 ? aiPrimitiveType_LINE
               : face.mNumIndices == 3 ? aiPrimitiveType_TRIANGLE
                                       : aiPrimitiveType_POLYGON;
    }
    mesh->mPrimitiveTypes = types;
  }
}

// Appends the triangles of `in` (and only the vertices they use) to `out`.
void append_triangles(const aiScene* scene, const aiMesh* in, bool linear_colours, const Material& fallback,
                      Mesh& out) {
  aiColor3D diffuse;
  float uniform[3] = {float(fallback.color.x), float(fallback.color.y), float(fallback.color.z)};
  if (material_diffuse(scene, in->mMaterialIndex, diffuse)) {
    const float c[3] = {diffuse.r, diffuse.g, diffuse.b};
    for (int k = 0; k < 3; ++k) uniform[k] = linear_colours ? linear_to_display(c[k]) : std::clamp(c[k], 0.0f, 1.0f);
  }
  const bool vertex_colours = in->HasVertexColors(0);
  std::vector<int64_t> remap(in->mNumVertices, -1);
  for (unsigned f = 0; f < in->mNumFaces; ++f) {
    const aiFace& face = in->mFaces[f];
    if (face.mNumIndices != 3) continue;  // points and lines
    for (unsigned k = 0; k < 3; ++k) {
      const unsigned v = face.mIndices[k];
      if (v >= in->mNumVertices) throw MeshError("vertex index out of range");
      if (remap[v] < 0) {
        remap[v] = int64_t(out.vertices.size());
        Vertex vertex{};
        const aiVector3D& p = in->mVertices[v];
        vertex.position[0] = p.x, vertex.position[1] = p.y, vertex.position[2] = p.z;
        if (in->HasNormals()) {
          const aiVector3D& n = in->mNormals[v];
          const float len = std::sqrt(n.x * n.x + n.y * n.y + n.z * n.z);
          if (std::isfinite(len) && len > 0)
            vertex.normal[0] = n.x / len, vertex.normal[1] = n.y / len, vertex.normal[2] = n.z / len;
        }
        if (vertex_colours) {
          const aiColor4D& c = in->mColors[0][v];
          const float rgb[3] = {c.r, c.g, c.b};
          for (int i = 0; i < 3; ++i)
            vertex.color[i] = linear_colours ? linear_to_display(rgb[i]) : std::clamp(rgb[i], 0.0f, 1.0f);
        } else {
          std::copy(uniform, uniform + 3, vertex.color);
        }
        vertex.specular = float(fallback.specular);
        out.vertices.push_back(vertex);
      }
      out.indices.push_back(uint32_t(remap[v]));
    }
  }
}

// The export format for an extension ("" if none): assimp's first format with that extension, except
// where a better one exists (binary STL: exact floats and smaller; glTF 2 rather than glTF 1). PLY
// stays ASCII (9 significant digits: float32 exact): assimp 5.2's binary PLY exporter declares uchar
// colours but writes floats, a file nobody reads back correctly.
std::string export_format_id(const Assimp::Exporter& exporter, const std::string& extension) {
  static const std::map<std::string, std::string> preferred = {
      {"ply", "ply"}, {"stl", "stlb"}, {"gltf", "gltf2"}, {"glb", "glb2"}, {"obj", "obj"}};
  for (size_t i = 0; i < exporter.GetExportFormatCount(); ++i) {
    const aiExportFormatDesc* d = exporter.GetExportFormatDescription(i);
    if (d->fileExtension == extension) {
      const auto p = preferred.find(extension);
      return p != preferred.end() ? p->second : std::string(d->id);
    }
  }
  return "";
}

std::string known_export_extensions(const Assimp::Exporter& exporter) {
  std::set<std::string> extensions;
  for (size_t i = 0; i < exporter.GetExportFormatCount(); ++i)
    extensions.insert(exporter.GetExportFormatDescription(i)->fileExtension);
  std::string joined;
  for (const auto& e : extensions) joined += (joined.empty() ? "" : ", ") + e;
  return joined;
}

// Builds an assimp scene of one mesh; the aiScene destructor frees every part.
std::unique_ptr<aiScene> to_assimp_scene(const Mesh& mesh, bool linear_colours) {
  auto scene = std::make_unique<aiScene>();
  // Vertices are shared between triangles, but flagging the scene AI_SCENE_FLAGS_NON_VERBOSE_FORMAT
  // makes assimp 5.2's OBJ export fail (without a message) in a normal-generation step it enforces;
  // normals are always present, so that step has nothing to do anyway.
  scene->mFlags = 0;
  scene->mRootNode = new aiNode("root");
  scene->mRootNode->mNumMeshes = 1;
  scene->mRootNode->mMeshes = new unsigned[1]{0};

  const size_t nv = mesh.vertices.size();
  auto colour = [&](size_t i, int k) {
    const float c = mesh.vertices[i].color[k];
    return linear_colours ? display_to_linear(c) : std::clamp(c, 0.0f, 1.0f);
  };
  // A real material in the mean vertex colour, for formats without per-vertex colours (STL has none;
  // OBJ viewers that ignore vertex colours read the .mtl).
  double mean[3] = {0, 0, 0};
  for (size_t i = 0; i < nv; ++i)
    for (int k = 0; k < 3; ++k) mean[k] += mesh.vertices[i].color[k] / double(nv);
  auto* material = new aiMaterial();
  scene->mNumMaterials = 1;
  scene->mMaterials = new aiMaterial*[1]{material};
  const aiString name("jess_material");
  material->AddProperty(&name, AI_MATKEY_NAME);
  aiColor3D diffuse{float(mean[0]), float(mean[1]), float(mean[2])};
  if (linear_colours) diffuse = {display_to_linear(diffuse.r), display_to_linear(diffuse.g), display_to_linear(diffuse.b)};
  material->AddProperty(&diffuse, 1, AI_MATKEY_COLOR_DIFFUSE);

  auto* out = new aiMesh();
  scene->mNumMeshes = 1;
  scene->mMeshes = new aiMesh*[1]{out};
  out->mMaterialIndex = 0;
  out->mPrimitiveTypes = aiPrimitiveType_TRIANGLE;
  out->mNumVertices = unsigned(nv);
  out->mVertices = new aiVector3D[nv];
  out->mNormals = new aiVector3D[nv];
  out->mColors[0] = new aiColor4D[nv];
  for (size_t i = 0; i < nv; ++i) {
    const Vertex& v = mesh.vertices[i];
    out->mVertices[i] = aiVector3D(v.position[0], v.position[1], v.position[2]);
    out->mNormals[i] = aiVector3D(v.normal[0], v.normal[1], v.normal[2]);
    out->mColors[0][i] = aiColor4D(colour(i, 0), colour(i, 1), colour(i, 2), 1.0f);
  }
  const size_t nt = mesh.triangles();
  out->mNumFaces = unsigned(nt);
  out->mFaces = new aiFace[nt];
  for (size_t t = 0; t < nt; ++t) {
    aiFace& face = out->mFaces[t];
    face.mNumIndices = 3;
    face.mIndices = new unsigned[3]{mesh.indices[3 * t], mesh.indices[3 * t + 1], mesh.indices[3 * t + 2]};
  }
  return scene;
}

// What save_mesh needs to build a scene safely (Mesh::validate's checks that guard memory access).
void check_savable(const Mesh& mesh, const std::string& path) {
  const std::string what = "save_mesh " + quoted(path) + ": ";
  if (mesh.indices.empty()) throw MeshError(what + "the mesh has no triangles");
  if (mesh.indices.size() % 3 != 0) throw MeshError(what + "the index count is not a multiple of 3");
  if (mesh.vertices.size() > 0xFFFFFFFFu) throw MeshError(what + "too many vertices");
  for (uint32_t i : mesh.indices)
    if (i >= mesh.vertices.size())
      throw MeshError(what + "index " + std::to_string(i) + " is out of range (" + std::to_string(mesh.vertices.size()) +
                      " vertices)");
  for (const Vertex& v : mesh.vertices)
    for (int k = 0; k < 3; ++k)
      if (!std::isfinite(v.position[k])) throw MeshError(what + "a vertex position is not finite");
}

}  // namespace

namespace {

// assimp's import and jess's conversion, in whichever process calls it.
Mesh import_mesh(const std::string& path, const Material& fallback) {
  Assimp::Importer importer;
  importer.SetPropertyFloat(AI_CONFIG_PP_GSN_MAX_SMOOTHING_ANGLE, 60.0f);
  // Import and check first, post-process second: Debian's assimp keeps its internal assertions, and a
  // malformed file (a PLY face with no vertices) would abort the process in the triangulation step.
  const aiScene* scene = importer.ReadFile(path, aiProcess_ValidateDataStructure);
  if (!scene) throw MeshError("cannot read mesh file " + quoted(path) + ": " + importer.GetErrorString());
  try {
    check_faces(scene);
  } catch (const MeshError& e) {
    throw MeshError("mesh file " + quoted(path) + " is corrupt: " + e.what());
  }
  scene = importer.ApplyPostProcessing(aiProcess_Triangulate | aiProcess_JoinIdenticalVertices |
                                       aiProcess_GenSmoothNormals | aiProcess_PreTransformVertices);
  if (!scene) throw MeshError("cannot process mesh file " + quoted(path) + ": " + importer.GetErrorString());

  const bool linear_colours = stores_linear_colours(lower_extension(path));
  Mesh mesh;
  try {
    for (unsigned m = 0; m < scene->mNumMeshes; ++m)
      if (scene->mMeshes[m]) append_triangles(scene, scene->mMeshes[m], linear_colours, fallback, mesh);
  } catch (const MeshError& e) {
    throw MeshError("mesh file " + quoted(path) + ": " + e.what());
  }
  if (mesh.indices.empty())
    throw MeshError("mesh file " + quoted(path) + " has no triangles (" + std::to_string(scene->mNumMeshes) +
                    " meshes of points or lines only, or none)");
  repair_normals(mesh);
  return mesh;
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t w = ::write(fd, data, size);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    size -= size_t(w);
  }
  return true;
}

// The import runs in a child process: Debian's assimp 5.2 loops forever or crashes on some malformed
// files (found by fuzz/fuzz_mesh: an endless loop in the PLY header parser within seconds), and a user's
// folder of meshes must not take jess down with it. The child sends the mesh back through a pipe ('M',
// the counts, the raw vertices and indices) or the error ('E', the message); the parent gives up after
// JESS_MESH_TIMEOUT seconds (default 120). A fork costs milliseconds; meshes are read once per object.
Mesh import_mesh_isolated(const std::string& path, const Material& fallback) {
  int fds[2];
  if (::pipe(fds) != 0) throw MeshError("cannot read mesh file " + quoted(path) + ": pipe: " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    throw MeshError("cannot read mesh file " + quoted(path) + ": fork: " + std::strerror(errno));
  }
  if (pid == 0) {  // the child: import, report, leave without running the parent's exit handlers
    ::close(fds[0]);
    // A crash in assimp ends the child with its signal, which the parent reports; the parent's own crash
    // handlers (a sanitizer's, Python's faulthandler) would describe the parent's process instead.
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) ::signal(sig, SIG_DFL);
    std::string out;
    try {
      const Mesh m = import_mesh(path, fallback);
      const uint64_t counts[2] = {m.vertices.size(), m.indices.size()};
      out.assign("M");
      out.append(reinterpret_cast<const char*>(counts), sizeof counts);
      out.append(reinterpret_cast<const char*>(m.vertices.data()), m.vertices.size() * sizeof(Vertex));
      out.append(reinterpret_cast<const char*>(m.indices.data()), m.indices.size() * sizeof(uint32_t));
    } catch (const std::exception& e) {
      out = std::string("E") + e.what();
    } catch (...) {
      out = "Ecannot read mesh file " + quoted(path) + ": unknown error";
    }
    _exit(write_all(fds[1], out.data(), out.size()) ? 0 : 1);
  }
  ::close(fds[1]);
  double timeout = 120;
  if (const char* env = std::getenv("JESS_MESH_TIMEOUT")) timeout = std::max(0.1, std::atof(env));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout);
  std::string in;
  char buf[1 << 16];
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, int(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its end: done (or died)
    in.append(buf, size_t(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out)
    throw MeshError("reading mesh file " + quoted(path) + " did not finish within " + std::to_string(int(timeout)) +
                    " s (JESS_MESH_TIMEOUT): assimp is stuck on a malformed or unsupported file");
  if (WIFSIGNALED(status))
    throw MeshError("assimp crashed reading mesh file " + quoted(path) + " (signal " + std::to_string(WTERMSIG(status)) +
                    ", " + strsignal(WTERMSIG(status)) + "): the file is malformed or unsupported");
  if (in.size() >= 1 && in[0] == 'E') throw MeshError(in.substr(1));
  uint64_t counts[2] = {0, 0};
  if (in.size() < 1 + sizeof counts || in[0] != 'M')
    throw MeshError("reading mesh file " + quoted(path) + " failed: the importer process ended without a result");
  std::memcpy(counts, in.data() + 1, sizeof counts);
  const size_t expected = 1 + sizeof counts + counts[0] * sizeof(Vertex) + counts[1] * sizeof(uint32_t);
  if (in.size() != expected)
    throw MeshError("reading mesh file " + quoted(path) + " failed: the importer process sent an incomplete mesh");
  Mesh mesh;
  mesh.vertices.resize(counts[0]);
  mesh.indices.resize(counts[1]);
  std::memcpy(mesh.vertices.data(), in.data() + 1 + sizeof counts, counts[0] * sizeof(Vertex));
  std::memcpy(mesh.indices.data(), in.data() + 1 + sizeof counts + counts[0] * sizeof(Vertex),
              counts[1] * sizeof(uint32_t));
  return mesh;
}

}  // namespace

Mesh load_mesh(const std::string& path, const Material& fallback) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status)) throw MeshError("mesh file " + quoted(path) + " does not exist");
  if (fs::is_directory(status)) throw MeshError("mesh file " + quoted(path) + " is a directory");
  if (fs::file_size(path, ec) == 0) throw MeshError("mesh file " + quoted(path) + " is empty");
  return import_mesh_isolated(path, fallback);
}

void save_mesh(const std::string& path, const Mesh& mesh) {
  check_savable(mesh, path);
  const std::string extension = lower_extension(path);
  Assimp::Exporter exporter;
  const std::string format = extension.empty() ? "" : export_format_id(exporter, extension);
  if (format.empty())
    throw MeshError("save_mesh " + quoted(path) + ": unknown mesh extension '" + extension +
                    "' (known: " + known_export_extensions(exporter) + ")");
  const std::unique_ptr<aiScene> scene = to_assimp_scene(mesh, stores_linear_colours(extension));

  // Export into a private folder beside the target under the target's own name, so that the files
  // that reference each other (x.obj -> x.mtl, x.gltf -> x.bin) keep valid names after the move.
  const fs::path target(path);
  fs::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  if (!fs::is_directory(folder))
    throw MeshError("save_mesh " + quoted(path) + ": folder " + quoted(folder.string()) + " does not exist");
  const fs::path staging = folder / ("." + target.filename().string() + ".tmp." + std::to_string(getpid()));
  std::error_code ec;
  fs::remove_all(staging, ec);
  if (!fs::create_directory(staging, ec))
    throw MeshError("save_mesh " + quoted(path) + ": cannot create " + quoted(staging.string()) + ": " + ec.message());
  struct RemoveStaging {
    fs::path dir;
    ~RemoveStaging() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{staging};

  const fs::path staged_main = staging / target.filename();
  if (exporter.Export(scene.get(), format, staged_main.string()) != AI_SUCCESS)
    throw MeshError("save_mesh " + quoted(path) + ": assimp export as '" + format + "' failed: " +
                    exporter.GetErrorString());
  if (!fs::exists(staged_main)) throw MeshError("save_mesh " + quoted(path) + ": assimp wrote no file");
  // Companion files first, the main file last: whoever sees it finds what it references.
  std::vector<fs::path> companions;
  for (const auto& entry : fs::directory_iterator(staging))
    if (entry.path() != staged_main) companions.push_back(entry.path());
  std::sort(companions.begin(), companions.end());
  companions.push_back(staged_main);
  for (const fs::path& file : companions) {
    fs::rename(file, folder / file.filename(), ec);
    if (ec)
      throw MeshError("save_mesh " + quoted(path) + ": cannot move " + quoted(file.string()) + " into place: " +
                      ec.message());
  }
}

std::vector<std::string> list_mesh_files(const std::string& folder, bool recursive) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) throw MeshError("mesh folder " + quoted(folder) + " does not exist or is not a folder");
  Assimp::Importer importer;
  std::vector<std::string> files;
  auto consider = [&](const fs::directory_entry& entry) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') return;
    std::error_code status_error;
    if (!entry.is_regular_file(status_error)) return;
    const std::string ext = entry.path().extension().string();
    if (ext.size() > 1 && importer.IsExtensionSupported(ext.c_str())) files.push_back(entry.path().string());
  };
  const auto options = fs::directory_options::skip_permission_denied;
  try {
    if (recursive) {
      for (auto it = fs::recursive_directory_iterator(folder, options); it != fs::recursive_directory_iterator(); ++it) {
        // Hidden folders (.git, staging folders of save_mesh) are not descended into.
        if (it->path().filename().string().rfind('.', 0) == 0 && it->is_directory()) {
          it.disable_recursion_pending();
          continue;
        }
        consider(*it);
      }
    } else {
      for (const auto& entry : fs::directory_iterator(folder, options)) consider(entry);
    }
  } catch (const fs::filesystem_error& e) {
    throw MeshError("listing mesh folder " + quoted(folder) + " failed: " + e.what());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace jess::render

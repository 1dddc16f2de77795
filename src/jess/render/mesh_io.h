#pragma once
// Mesh files through assimp (no torch): any format assimp imports (OBJ, PLY, glTF/GLB, OFF, STL,
// FBX, …) into one jess::render::Mesh, and OBJ / PLY / STL / glTF / GLB (and assimp's other export
// formats) out. Colours are display-encoded as in Mesh (glTF's linear colours are converted both
// ways); textures are not sampled. Every failure raises MeshError naming the file.
#include <string>
#include <vector>

#include "jess/render/mesh.h"

namespace jess::render {

// Loads every mesh of the file's scene, node transforms applied, into one triangle mesh: polygons are
// triangulated, identical vertices joined, normals kept from the file or generated (smooth across
// edges under 60°, sharp beyond, so boxes stay boxes); points and lines are dropped. A vertex's colour
// is its own colour if the file has per-vertex colours, else its material's diffuse colour, else
// `fallback.color` (assimp's placeholder "DefaultMaterial" counts as no material); the specular
// weight is always `fallback.specular` (no format stores it the renderer's way). Throws MeshError for
// a missing or unreadable file (with assimp's reason) and for one without triangles.
Mesh load_mesh(const std::string& path, const Material& fallback = Material{});

// Writes `mesh` in the format its extension names: obj (+ .mtl beside it), ply (ASCII), stl
// (binary), glb, gltf (+ .bin beside it), and assimp's other export extensions (dae, fbx, 3mf, x3d,
// …). Positions, normals, per-vertex colours (where the format has them) and triangles are kept;
// the specular weight is not. Atomic: the files are exported into a temporary folder next to `path`
// and renamed into place, the main file last. Throws MeshError for an unknown extension (listing the
// known ones), an empty or invalid mesh, or a failed export.
void save_mesh(const std::string& path, const Mesh& mesh);

// Files in `folder` (and its subfolders when `recursive`) whose extension assimp imports, sorted by
// path; hidden files (names starting with '.') are skipped. Throws MeshError if `folder` is not a
// directory.
std::vector<std::string> list_mesh_files(const std::string& folder, bool recursive = false);

}  // namespace jess::render

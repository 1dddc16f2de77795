#pragma once
// The procedural object catalogue: classes of everyday objects (chair, table, mug, …), each with
// unlimited distinct instances drawn from shape parameters — proportions, part counts, profiles —
// and materials. Materials (albedo, gloss) are drawn from one distribution shared by every class, and
// sizes are normalised afterwards, so a class cannot be told from another by its colours or its
// pixel count: only by its shape.
#include <cstdint>
#include <string>
#include <vector>

#include "jess/render/mesh.h"

namespace jess::render {

// The class names, in label order.
const std::vector<std::string>& procedural_classes();
bool is_procedural_class(const std::string& name);

// Instance `instance` of class `name`: the same (name, instance, seed) gives the same mesh, bit for
// bit; different instances differ in shape and material. The mesh is normalised (bounding-box
// centre at the origin, diagonal 1) and upright: +z is up and the object's front (a chair's open
// side, a car's nose, a mug's handle to the right of it) faces +y, where 3DIEBench's camera sits. Throws MeshError for an unknown class (the message lists the known ones).
Mesh make_procedural(const std::string& name, uint64_t instance, uint64_t seed = 0);

}  // namespace jess::render

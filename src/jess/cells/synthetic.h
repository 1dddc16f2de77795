#pragma once
// A PHATE-style synthetic branching dataset (light header: no torch), the toy data of DTAE:
// phate.tree.gen_dla(n_dim=100, n_branch=10, branch_length=1000) followed by one global min-max
// scaling to [0, 1] (research brief, section A.1). Branch 0 is a random walk (cumulative sum of
// uniform [-1, 1) steps per dimension); every other branch is a new walk of the same kind offset by a
// uniformly chosen point of branch 0 (so all branches hang off branch 0: a comb, not a fractal); then
// N(0, sigma^2) noise is added to every coordinate. Statistically, not bit-, equal to numpy's streams.
#include <cstdint>

#include "jess/cells/matrix.h"

namespace jess::cells {

struct SyntheticTreeOptions {
  int n_branch = 10;          // branches (labels 0..n_branch-1)
  int branch_length = 1000;   // points per branch
  int n_dim = 100;            // features
  double sigma = 4.0;         // standard deviation of the added Gaussian noise
  bool min_max_scale = true;  // global (x - min) / (max - min), as phate_data_generation.py does
  uint64_t seed = 37;         // gen_dla's default seed (the stream itself is std::mt19937_64)
};

// Rows are branch 0's points in walk order, then branch 1's, and so on. Annotations:
//   "branch"   categorical, the branch id ("0".."n_branch-1"), gen_dla's label i // branch_length;
//   "position" numeric, the step index along the branch's walk (0..branch_length-1): a pseudotime;
//   "attached_at" numeric, the step of branch 0 whose point offsets the branch (NaN on branch 0).
// Throws std::invalid_argument naming the offending option.
CellData synthetic_tree(const SyntheticTreeOptions& options = {});

}  // namespace jess::cells

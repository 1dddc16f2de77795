#pragma once
// The shipped Fashion-MNIST recipes (configs/fmnist/<method>.yaml, built into the binary at compile time):
// what `jess train` trains with when no --config is given and the data is Fashion-MNIST.
#include <string>
#include <vector>

namespace jess::vision {

// The recipe's YAML text for `method`, or "" when none is shipped.
std::string fmnist_recipe(const std::string& method);
// Methods with a shipped recipe, sorted.
std::vector<std::string> fmnist_recipe_methods();

}  // namespace jess::vision

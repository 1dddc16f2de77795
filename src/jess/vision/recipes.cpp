#include "jess/vision/recipes.h"

#include <map>

namespace jess::vision {
namespace {
const std::map<std::string, std::string>& recipes() {
  static const std::map<std::string, std::string> table = {
#include "jess/vision/fmnist_recipes.inc"
  };
  return table;
}
}  // namespace

std::string fmnist_recipe(const std::string& method) {
  auto it = recipes().find(method);
  return it == recipes().end() ? std::string() : it->second;
}

std::vector<std::string> fmnist_recipe_methods() {
  std::vector<std::string> out;
  for (const auto& kv : recipes()) out.push_back(kv.first);
  return out;
}

}  // namespace jess::vision

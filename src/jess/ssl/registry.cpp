// The method registry: one line per joint-embedding criterion.
#include <map>
#include <stdexcept>

#include "jess/ssl/criteria.h"
#include "jess/ssl/loss.h"
#include "jess/ssl/vicreg.h"

namespace jess::ssl {

namespace {
const std::map<std::string, std::unique_ptr<JointLoss> (*)()>& registry() {
  static const std::map<std::string, std::unique_ptr<JointLoss> (*)()> r = {
      {"vicreg", &make_vicreg},
      {"vicreg_exp", &make_vicreg_exp},
      {"vicreg_ctr", &make_vicreg_ctr},
      {"simclr", &make_simclr},
      {"simclr_abs", &make_simclr_abs},
      {"simclr_sq", &make_simclr_sq},
      {"dcl", &make_dcl},
      {"barlow_twins", &make_barlow_twins},
  };
  return r;
}
}  // namespace

std::vector<std::string> loss_names() {
  std::vector<std::string> names;
  for (const auto& kv : registry()) names.push_back(kv.first);
  return names;
}

std::unique_ptr<JointLoss> make_loss(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& n : loss_names()) known += (known.empty() ? "" : ", ") + n;
    throw std::invalid_argument("unknown SSL method '" + name + "' (known: " + known + ")");
  }
  return it->second();
}

}  // namespace jess::ssl

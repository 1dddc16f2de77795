// libFuzzer target: YAML configurations and key=value overrides through a schema with every field type.
// Bad input must end in jess::ConfigError (or another exception), never a crash.
#include <cstdint>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "jess/core/config.h"

namespace {
struct Options {
  std::string name = "kdv";
  int64_t n = 8;
  double lr = 1e-3;
  bool flag = false;
  std::string nested = "a";
  void describe(jess::ConfigSchema& s) {
    s.add("name", name, "a string", jess::check::one_of({"kdv", "ks", "burgers"}));
    s.add("model.n", n, "an int", jess::check::int_in(1, 1000));
    s.add("optim.lr", lr, "a double", jess::check::positive());
    s.add("flag", flag, "a bool");
    s.add("deep.er.key", nested, "a nested string");
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (int mode = 0; mode < 3; ++mode) {
    Options o;
    jess::ConfigSchema s;
    o.describe(s);
    try {
      if (mode == 0) s.load_yaml_string(text, "fuzz");
      if (mode == 1) s.load_stored_yaml(text, "fuzz");
      if (mode == 2) {
        std::vector<std::string> kv;
        std::istringstream in(text);
        for (std::string line; std::getline(in, line);) kv.push_back(line);
        s.apply_overrides(kv);
      }
      const std::string round = s.to_yaml();
      jess::compare_configs(round, text);
    } catch (const std::exception&) {
    }
  }
  return 0;
}

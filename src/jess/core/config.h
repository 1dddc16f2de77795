#pragma once
// Typed, validated configuration. An options struct binds each of its fields to a dotted key in a
// ConfigSchema; values then come from the struct's built-in defaults, a YAML file, and `key=value`
// overrides, in that order. Every value is parsed and checked the moment it is set, and a key the
// schema does not know is an error that names the key (never silently ignored).
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace jess {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A check returns an empty string when the value is acceptable, else what is wrong with it.
template <typename T>
using Check = std::function<std::string(const T&)>;

namespace check {
Check<int64_t> positive_int();
Check<int64_t> int_at_least(int64_t lo);
Check<int64_t> int_in(int64_t lo, int64_t hi);
Check<double> positive();
Check<double> non_negative();
Check<double> in_range(double lo, double hi);  // closed interval
Check<std::string> one_of(std::vector<std::string> choices);
}  // namespace check

class ConfigSchema {
 public:
  ConfigSchema& add(const std::string& key, std::string& field, const std::string& help,
                    Check<std::string> check = {});
  ConfigSchema& add(const std::string& key, int64_t& field, const std::string& help,
                    Check<int64_t> check = {});
  ConfigSchema& add(const std::string& key, double& field, const std::string& help,
                    Check<double> check = {});
  ConfigSchema& add(const std::string& key, bool& field, const std::string& help);

  // Parses `value` for `key`; `origin` (a file name, "command line") goes into error messages.
  void set(const std::string& key, const std::string& value, const std::string& origin);
  void load_yaml_file(const std::string& path);
  void load_yaml_string(const std::string& text, const std::string& origin);
  // A configuration stored by an earlier run (a checkpoint's): keys it lacks keep their defaults (added
  // since), keys the schema no longer has are skipped (removed since); values are still checked.
  void load_stored_yaml(const std::string& text, const std::string& origin);
  // Each entry is "key=value"; keys are the dotted names of describe().
  void apply_overrides(const std::vector<std::string>& key_values);

  bool has(const std::string& key) const;
  std::vector<std::string> keys() const;
  std::string value_string(const std::string& key) const;
  std::string to_yaml() const;   // the effective configuration, nested by dots
  std::string describe() const;  // one line per key: name, type, current value, help

 private:
  struct Field {
    std::string key, type, help;
    std::function<void(const std::string& value, const std::string& origin)> parse;
    std::function<std::string()> print;
  };
  const Field& find(const std::string& key, const std::string& origin) const;
  std::vector<Field> fields_;
};

// Strict scalar parsers shared by the schema and the CLI (the whole string must be consumed).
bool parse_int64(const std::string& text, int64_t& out);
bool parse_double(const std::string& text, double& out);
bool parse_bool(const std::string& text, bool& out);
std::string format_double(double v);  // shortest text that reads back to the same double

// Two resolved configurations (ConfigSchema::to_yaml texts) compared key by key (dotted keys): what a
// resumed run's stored configuration lacks (keys added by a later jess), what it has that the current
// one does not (keys removed since), and the keys whose values differ.
struct ConfigDifference {
  struct Change {
    std::string key, stored, current;
  };
  std::vector<std::pair<std::string, std::string>> added;    // key, current value
  std::vector<std::pair<std::string, std::string>> removed;  // key, stored value
  std::vector<Change> changed;
  bool empty() const { return added.empty() && removed.empty() && changed.empty(); }
};
ConfigDifference compare_configs(const std::string& stored_yaml, const std::string& current_yaml);

}  // namespace jess

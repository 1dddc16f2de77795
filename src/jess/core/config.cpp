#include "jess/core/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

namespace jess {

namespace check {
Check<int64_t> positive_int() {
  return [](const int64_t& v) { return v > 0 ? std::string() : "must be > 0"; };
}
Check<int64_t> int_at_least(int64_t lo) {
  return [lo](const int64_t& v) { return v >= lo ? std::string() : "must be >= " + std::to_string(lo); };
}
Check<int64_t> int_in(int64_t lo, int64_t hi) {
  return [lo, hi](const int64_t& v) {
    return (v >= lo && v <= hi) ? std::string()
                                : "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  };
}
Check<double> positive() {
  return [](const double& v) { return v > 0 ? std::string() : "must be > 0"; };
}
Check<double> non_negative() {
  return [](const double& v) { return v >= 0 ? std::string() : "must be >= 0"; };
}
Check<double> in_range(double lo, double hi) {
  return [lo, hi](const double& v) {
    return (v >= lo && v <= hi) ? std::string()
                                : "must be in [" + format_double(lo) + ", " + format_double(hi) + "]";
  };
}
Check<std::string> one_of(std::vector<std::string> choices) {
  return [choices](const std::string& v) {
    if (std::find(choices.begin(), choices.end(), v) != choices.end()) return std::string();
    std::string msg = "must be one of:";
    for (const auto& c : choices) msg += " " + c;
    return msg;
  };
}
}  // namespace check

bool parse_int64(const std::string& text, int64_t& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end != text.c_str() + text.size()) return false;
  out = static_cast<int64_t>(v);
  return true;
}

bool parse_double(const std::string& text, double& out) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v)) return false;
  out = v;
  return true;
}

bool parse_bool(const std::string& text, bool& out) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "true" || t == "yes" || t == "on" || t == "1") return out = true, true;
  if (t == "false" || t == "no" || t == "off" || t == "0") return out = false, true;
  return false;
}

std::string format_double(double v) {
  char buf[64];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string s = buf;
  // Keep a marker of floating type so YAML readers see a float, not an int.
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

namespace {
[[noreturn]] void bad_value(const std::string& key, const std::string& value, const std::string& origin,
                            const std::string& why) {
  throw ConfigError("config key '" + key + "' = '" + value + "' (" + origin + "): " + why);
}
}  // namespace

ConfigSchema& ConfigSchema::add(const std::string& key, std::string& field, const std::string& help,
                                Check<std::string> chk) {
  fields_.push_back({key, "string", help,
                     [key, &field, chk](const std::string& v, const std::string& origin) {
                       if (chk) {
                         std::string why = chk(v);
                         if (!why.empty()) bad_value(key, v, origin, why);
                       }
                       field = v;
                     },
                     [&field] { return field; }});
  return *this;
}

ConfigSchema& ConfigSchema::add(const std::string& key, int64_t& field, const std::string& help,
                                Check<int64_t> chk) {
  fields_.push_back({key, "int", help,
                     [key, &field, chk](const std::string& v, const std::string& origin) {
                       int64_t x = 0;
                       if (!parse_int64(v, x)) bad_value(key, v, origin, "expected an integer");
                       if (chk) {
                         std::string why = chk(x);
                         if (!why.empty()) bad_value(key, v, origin, why);
                       }
                       field = x;
                     },
                     [&field] { return std::to_string(field); }});
  return *this;
}

ConfigSchema& ConfigSchema::add(const std::string& key, double& field, const std::string& help,
                                Check<double> chk) {
  fields_.push_back({key, "float", help,
                     [key, &field, chk](const std::string& v, const std::string& origin) {
                       double x = 0;
                       if (!parse_double(v, x)) bad_value(key, v, origin, "expected a finite number");
                       if (chk) {
                         std::string why = chk(x);
                         if (!why.empty()) bad_value(key, v, origin, why);
                       }
                       field = x;
                     },
                     [&field] { return format_double(field); }});
  return *this;
}

ConfigSchema& ConfigSchema::add(const std::string& key, bool& field, const std::string& help) {
  fields_.push_back({key, "bool", help,
                     [key, &field](const std::string& v, const std::string& origin) {
                       bool x = false;
                       if (!parse_bool(v, x)) bad_value(key, v, origin, "expected true or false");
                       field = x;
                     },
                     [&field] { return std::string(field ? "true" : "false"); }});
  return *this;
}

const ConfigSchema::Field& ConfigSchema::find(const std::string& key, const std::string& origin) const {
  for (const auto& f : fields_)
    if (f.key == key) return f;
  std::string msg = "unknown config key '" + key + "' (" + origin + ")";
  // Suggest keys sharing the last component, the usual typo being a wrong prefix.
  std::string last = key.substr(key.rfind('.') == std::string::npos ? 0 : key.rfind('.') + 1);
  std::vector<std::string> near;
  for (const auto& f : fields_) {
    std::string flast = f.key.substr(f.key.rfind('.') == std::string::npos ? 0 : f.key.rfind('.') + 1);
    if (flast == last || f.key.find(key) != std::string::npos) near.push_back(f.key);
  }
  if (!near.empty()) {
    msg += "; did you mean:";
    for (const auto& n : near) msg += " " + n;
  } else {
    msg += "; run with --print-config to list the keys";
  }
  throw ConfigError(msg);
}

void ConfigSchema::set(const std::string& key, const std::string& value, const std::string& origin) {
  find(key, origin).parse(value, origin);
}

bool ConfigSchema::has(const std::string& key) const {
  return std::any_of(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
}

std::vector<std::string> ConfigSchema::keys() const {
  std::vector<std::string> out;
  for (const auto& f : fields_) out.push_back(f.key);
  return out;
}

std::string ConfigSchema::value_string(const std::string& key) const { return find(key, "lookup").print(); }

namespace {
void walk(const YAML::Node& node, const std::string& prefix, ConfigSchema& schema, const std::string& origin,
          bool skip_unknown = false) {
  if (node.IsNull()) return;
  if (!node.IsMap()) throw ConfigError(origin + ": expected a mapping of keys to values at '" + prefix + "'");
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::string full = prefix.empty() ? key : prefix + "." + key;
    const YAML::Node& v = kv.second;
    if (v.IsMap()) {
      walk(v, full, schema, origin, skip_unknown);
    } else if (skip_unknown && !schema.has(full)) {
      continue;  // a key removed since the stored configuration was written
    } else if (v.IsScalar()) {
      schema.set(full, v.Scalar(), origin);
    } else if (v.IsNull()) {
      throw ConfigError("config key '" + full + "' (" + origin + ") has no value");
    } else {
      throw ConfigError("config key '" + full + "' (" + origin + "): lists are not accepted here");
    }
  }
}
}  // namespace

namespace {
YAML::Node parse_yaml(const std::string& text, const std::string& origin) {
  try {
    return YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": invalid YAML: " + e.what());
  }
}
}  // namespace

void ConfigSchema::load_yaml_string(const std::string& text, const std::string& origin) {
  walk(parse_yaml(text, origin), "", *this, origin);
}

void ConfigSchema::load_stored_yaml(const std::string& text, const std::string& origin) {
  walk(parse_yaml(text, origin), "", *this, origin, /*skip_unknown=*/true);
}

void ConfigSchema::load_yaml_file(const std::string& path) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    throw ConfigError("cannot read config file '" + path + "'");
  } catch (const YAML::Exception& e) {
    throw ConfigError(path + ": invalid YAML: " + e.what());
  }
  walk(root, "", *this, path);
}

void ConfigSchema::apply_overrides(const std::vector<std::string>& key_values) {
  for (const auto& kv : key_values) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw ConfigError("override '" + kv + "' is not of the form key=value");
    set(kv.substr(0, eq), kv.substr(eq + 1), "command line");
  }
}

std::string ConfigSchema::to_yaml() const {
  YAML::Emitter out;
  // Build a nested map in key order of declaration.
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& f : fields_) {
    std::vector<std::string> parts;
    std::stringstream ss(f.key);
    std::string part;
    while (std::getline(ss, part, '.')) parts.push_back(part);
    YAML::Node node = root;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      if (!node[parts[i]]) node[parts[i]] = YAML::Node(YAML::NodeType::Map);
      node.reset(node[parts[i]]);
    }
    node[parts.back()] = f.print();
  }
  out << root;
  return std::string(out.c_str()) + "\n";
}

std::string ConfigSchema::describe() const {
  size_t width = 0;
  for (const auto& f : fields_) width = std::max(width, f.key.size());
  std::ostringstream os;
  for (const auto& f : fields_) {
    os << "  " << f.key << std::string(width - f.key.size() + 2, ' ') << "(" << f.type << ", default "
       << f.print() << ")  " << f.help << "\n";
  }
  return os.str();
}

namespace {
void flatten(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) flatten(kv.second, prefix.empty() ? kv.first.as<std::string>() : prefix + "." + kv.first.as<std::string>(), out);
  } else if (node.IsScalar()) {
    out[prefix] = node.Scalar();
  } else if (node.IsNull()) {
    out[prefix] = "";
  } else {
    YAML::Emitter e;
    e << YAML::Flow << node;
    out[prefix] = e.c_str();
  }
}
std::map<std::string, std::string> flat_config(const std::string& text, const std::string& what) {
  std::map<std::string, std::string> out;
  try {
    flatten(YAML::Load(text), "", out);
  } catch (const YAML::Exception& e) {
    throw ConfigError(what + " configuration is not valid YAML: " + e.what());
  }
  return out;
}
}  // namespace

ConfigDifference compare_configs(const std::string& stored_yaml, const std::string& current_yaml) {
  const auto a = flat_config(stored_yaml, "the stored"), b = flat_config(current_yaml, "the current");
  ConfigDifference d;
  for (const auto& kv : b) {
    auto it = a.find(kv.first);
    if (it == a.end()) d.added.emplace_back(kv.first, kv.second);
    else if (it->second != kv.second) d.changed.push_back({kv.first, it->second, kv.second});
  }
  for (const auto& kv : a)
    if (!b.count(kv.first)) d.removed.emplace_back(kv.first, kv.second);
  return d;
}

}  // namespace jess

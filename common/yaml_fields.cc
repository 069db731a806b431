#include "common/yaml_fields.h"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <sstream>

#include "common/time_util.h"

namespace carbon {
namespace {

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string JoinList(const std::vector<std::string>& v) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += v[i];
  }
  return out;
}

}  // namespace

std::string NearestWord(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  size_t limit = std::max<size_t>(2, word.size() / 3);
  if (best_d <= limit && best_d < word.size()) return best;
  // A prefix match ("accum" -> "accumulation_steps") is also a good suggestion.
  for (const auto& c : candidates)
    if (word.size() >= 3 && c.rfind(word, 0) == 0) return c;
  return "";
}

std::string YamlFields::Where(const YAML::Node& node) const {
  std::ostringstream os;
  os << file_;
  if (node.IsDefined()) {
    auto m = node.Mark();
    if (m.line >= 0) os << ":" << m.line + 1 << ":" << m.column + 1;
  }
  return os.str();
}

YAML::Node YamlFields::Parse(const std::string& text) {
  try {
    YAML::Node root = YAML::Load(text);
    return root;
  } catch (const YAML::ParserException& e) {
    std::ostringstream os;
    os << "YAML syntax error at " << file_ << ":" << e.mark.line + 1 << ":" << e.mark.column + 1
       << ": " << e.msg;
    errors_.emplace_back("", os.str());
  } catch (const YAML::Exception& e) {
    errors_.emplace_back("", "cannot read " + file_ + ": " + e.what());
  }
  return YAML::Node(YAML::NodeType::Null);
}

void YamlFields::Error(const YAML::Node& node, const std::string& path, const std::string& msg) {
  std::string text = msg + " at " + Where(node);
  if (!path.empty()) text = "'" + path + "': " + text;
  errors_.emplace_back(path, text);
}

void YamlFields::ErrorAt(const YAML::Node& map, const std::string& key, const std::string& path,
                         const std::string& msg) {
  YAML::Node v = Get(map, key);
  Error(v.IsDefined() ? v : map, path, msg);
}

YAML::Node YamlFields::Get(const YAML::Node& map, const std::string& key) const {
  if (!map.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  for (auto it = map.begin(); it != map.end(); ++it) {
    if (it->first.IsScalar() && it->first.Scalar() == key) return it->second;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool YamlFields::Map(const YAML::Node& node, const std::string& path,
                     const std::vector<std::string>& keys) {
  if (!node.IsDefined() || node.IsNull()) return true;
  if (!node.IsMap()) {
    Error(node, path,
          std::string("expected a mapping") + (keys.empty() ? "" : " with keys " + JoinList(keys)));
    return false;
  }
  std::vector<std::string> seen;
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it->first.IsScalar()) {
      Error(it->first, path, "keys must be plain words");
      continue;
    }
    const std::string& k = it->first.Scalar();
    if (std::find(seen.begin(), seen.end(), k) != seen.end()) {
      errors_.emplace_back(Join(path, k), "duplicate key '" + k + "' at " + Where(it->first) +
                                              (path.empty() ? "" : " in " + path));
      continue;
    }
    seen.push_back(k);
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      std::string msg = "unknown key '" + k + "' at " + Where(it->first);
      msg += path.empty() ? " at the top level" : " in " + path;
      std::string near = NearestWord(k, keys);
      if (!near.empty()) msg += "; did you mean '" + near + "'?";
      msg += " (accepted: " + JoinList(keys) + ")";
      errors_.emplace_back(Join(path, k), msg);
    }
  }
  return true;
}

std::optional<std::string> YamlFields::Scalar(const YAML::Node& map, const std::string& path,
                                              const std::string& key, const char* expected) {
  YAML::Node v = Get(map, key);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (!v.IsScalar()) {
    Error(v, Join(path, key), std::string("expected ") + expected + ", got a " +
                                  (v.IsMap() ? "mapping" : "list"));
    return std::nullopt;
  }
  return v.Scalar();
}

std::optional<std::string> YamlFields::String(const YAML::Node& map, const std::string& path,
                                              const std::string& key, bool required) {
  auto s = Scalar(map, path, key, "a string");
  if (!s && required && !Get(map, key).IsDefined())
    Error(map, Join(path, key), "required field is missing");
  else if (s && s->empty() && required)
    ErrorAt(map, key, Join(path, key), "must not be empty");
  return s;
}

std::optional<int64_t> YamlFields::Int(const YAML::Node& map, const std::string& path,
                                       const std::string& key, int64_t min, int64_t max,
                                       bool required) {
  std::string field = Join(path, key);
  auto s = Scalar(map, path, key, "an integer");
  if (!s) {
    if (required && !Get(map, key).IsDefined()) Error(map, field, "required field is missing");
    return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(s->c_str(), &end, 10);
  if (s->empty() || *end != '\0' || errno == ERANGE) {
    ErrorAt(map, key, field, "'" + *s + "' is not an integer; expected a whole number from " +
                                 std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  if (v < min || v > max) {
    ErrorAt(map, key, field, std::to_string(v) + " is out of range; expected " +
                                 std::to_string(min) + " to " + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<double> YamlFields::Double(const YAML::Node& map, const std::string& path,
                                         const std::string& key, double min, double max,
                                         bool min_exclusive, bool required) {
  std::string field = Join(path, key);
  auto s = Scalar(map, path, key, "a number");
  if (!s) {
    if (required && !Get(map, key).IsDefined()) Error(map, field, "required field is missing");
    return std::nullopt;
  }
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s->c_str(), &end);
  if (s->empty() || *end != '\0' || errno == ERANGE || !std::isfinite(v)) {
    ErrorAt(map, key, field, "'" + *s + "' is not a number");
    return std::nullopt;
  }
  std::ostringstream range;
  range << (min_exclusive ? "greater than " : "from ") << min << (min_exclusive ? " and up to " : " to ")
        << max;
  if ((min_exclusive ? v <= min : v < min) || v > max) {
    std::ostringstream os;
    os << v << " is out of range; expected a number " << range.str();
    ErrorAt(map, key, field, os.str());
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlFields::Bool(const YAML::Node& map, const std::string& path,
                                     const std::string& key) {
  auto s = Scalar(map, path, key, "true or false");
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  ErrorAt(map, key, Join(path, key), "'" + *s + "' is not a boolean; expected true or false");
  return std::nullopt;
}

std::optional<std::string> YamlFields::Enum(const YAML::Node& map, const std::string& path,
                                            const std::string& key,
                                            const std::vector<std::string>& values) {
  auto s = Scalar(map, path, key, "a word");
  if (!s) return std::nullopt;
  if (std::find(values.begin(), values.end(), *s) != values.end()) return s;
  std::string msg = "'" + *s + "' is not accepted; expected one of " + JoinList(values);
  std::string near = NearestWord(*s, values);
  if (!near.empty()) msg += "; did you mean '" + near + "'?";
  ErrorAt(map, key, Join(path, key), msg);
  return std::nullopt;
}

std::optional<Duration> YamlFields::DurationField(const YAML::Node& map, const std::string& path,
                                                  const std::string& key, bool allow_zero) {
  auto s = Scalar(map, path, key, "a duration");
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s, allow_zero);
  if (!d.ok()) {
    ErrorAt(map, key, Join(path, key), d.status().message());
    return std::nullopt;
  }
  return *d;
}

std::optional<int64_t> YamlFields::Bytes(const YAML::Node& map, const std::string& path, const std::string& key,
                                         int64_t min, int64_t max) {
  auto s = Scalar(map, path, key, "a size");
  if (!s) return std::nullopt;
  auto b = ParseBytes(*s);
  if (b.ok() && (*b < min || *b > max))
    b = InvalidArgument("'" + *s + "' is out of range; expected " + std::to_string(min) + " to " +
                        std::to_string(max) + " bytes");
  if (!b.ok()) {
    ErrorAt(map, key, Join(path, key), b.status().message());
    return std::nullopt;
  }
  return *b;
}

std::optional<Timestamp> YamlFields::Time(const YAML::Node& map, const std::string& path,
                                          const std::string& key) {
  auto s = Scalar(map, path, key, "a date-time");
  if (!s) return std::nullopt;
  auto t = ParseTime(*s);
  if (!t.ok()) {
    ErrorAt(map, key, Join(path, key), t.status().message());
    return std::nullopt;
  }
  return *t;
}

std::optional<std::vector<std::string>> YamlFields::StringList(
    const YAML::Node& map, const std::string& path, const std::string& key,
    const std::vector<std::string>& values) {
  YAML::Node v = Get(map, key);
  std::string field = Join(path, key);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  std::string accepted;
  for (const auto& a : values) accepted += (accepted.empty() ? "" : ", ") + a;
  if (!v.IsSequence()) {
    Error(v, field, values.empty() ? "expected a list such as [a, b]"
                                   : "expected a list of: " + accepted);
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string item = field + "[" + std::to_string(i) + "]";
    if (!v[i].IsScalar() || v[i].Scalar().empty()) {
      Error(v[i], item, "expected a non-empty string");
      return std::nullopt;
    }
    const std::string& s = v[i].Scalar();
    if (!values.empty() && std::find(values.begin(), values.end(), s) == values.end()) {
      Error(v[i], item, "'" + s + "' is not accepted; expected one of: " + accepted);
      return std::nullopt;
    }
    out.push_back(s);
  }
  return out;
}

std::optional<std::vector<int64_t>> YamlFields::IntList(const YAML::Node& map,
                                                        const std::string& path,
                                                        const std::string& key, int64_t min,
                                                        int64_t max) {
  YAML::Node v = Get(map, key);
  std::string field = Join(path, key);
  if (!v.IsDefined() || v.IsNull()) return std::nullopt;
  if (!v.IsSequence()) {
    Error(v, field, "expected a list of integers such as [256, 128]");
    return std::nullopt;
  }
  std::vector<int64_t> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string item = field + "[" + std::to_string(i) + "]";
    if (!v[i].IsScalar()) {
      Error(v[i], item, "expected an integer");
      return std::nullopt;
    }
    errno = 0;
    char* end = nullptr;
    long long n = std::strtoll(v[i].Scalar().c_str(), &end, 10);
    if (v[i].Scalar().empty() || *end != '\0' || errno == ERANGE || n < min || n > max) {
      Error(v[i], item, "'" + v[i].Scalar() + "' is not accepted; expected an integer from " +
                            std::to_string(min) + " to " + std::to_string(max));
      return std::nullopt;
    }
    out.push_back(n);
  }
  return out;
}

Status YamlFields::ToStatus() const {
  if (errors_.empty()) return Status();
  std::string msg;
  for (size_t i = 0; i < errors_.size(); ++i) {
    if (i) msg += "\n";
    msg += errors_[i].second;
  }
  return InvalidArgument(msg, errors_.front().first);
}

StatusOr<int64_t> ParseBytes(const std::string& text) {
  const std::string accepted = "; expected a size such as 512MiB, 4G, 1.5GiB or 800000000 (bytes)";
  size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  const std::string number = text.substr(0, i);
  std::string unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  if (number.empty() || number.front() == '.' || std::count(number.begin(), number.end(), '.') > 1)
    return InvalidArgument("'" + text + "' is not a size" + accepted);
  static const std::vector<std::pair<std::string, double>> kUnits = {
      {"", 1},         {"B", 1},          {"K", 0x1p10},  {"KiB", 0x1p10}, {"KB", 1e3},
      {"M", 0x1p20},   {"MiB", 0x1p20},   {"MB", 1e6},    {"G", 0x1p30},   {"GiB", 0x1p30},
      {"GB", 1e9},     {"T", 0x1p40},     {"TiB", 0x1p40}, {"TB", 1e12}};
  for (const auto& [name, factor] : kUnits) {
    if (unit != name) continue;
    const double bytes = std::strtod(number.c_str(), nullptr) * factor;
    if (!(bytes < 0x1p62)) return InvalidArgument("'" + text + "' is too large" + accepted);
    return static_cast<int64_t>(bytes);
  }
  return InvalidArgument("'" + text + "' has an unknown unit '" + unit + "'" + accepted);
}

}  // namespace carbon

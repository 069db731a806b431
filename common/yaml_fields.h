// YamlFields: typed, validated reads from a yaml-cpp tree that remember where
// each value came from, so every error names file:line:column and the field
// path, says what is accepted, and suggests the nearest key for an unknown one.
//
// Internal to common/ (job spec and daemon config parsing). Errors are
// collected, not thrown: a user sees every problem of a file at once.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"

namespace carbon {

// "512MiB", "4G", "1.5GiB", "800000000": see YamlFields::Bytes.
StatusOr<int64_t> ParseBytes(const std::string& text);

// The nearest of `candidates` to `word` by edit distance, or "" when none is close.
std::string NearestWord(const std::string& word, const std::vector<std::string>& candidates);

class YamlFields {
 public:
  explicit YamlFields(std::string file) : file_(std::move(file)) {}

  // Parses text; on a syntax error records it (with line and column) and
  // returns a null node.
  YAML::Node Parse(const std::string& text);

  // Checks `node` is a mapping whose keys are all in `keys`. Returns false (and
  // records an error) when it is not a mapping. A null node is accepted as an
  // empty mapping (an absent section).
  bool Map(const YAML::Node& node, const std::string& path, const std::vector<std::string>& keys);

  // Each getter reads node[key]; absent or null leaves the result empty and
  // records nothing unless `required`. A wrong type or range is recorded.
  std::optional<std::string> String(const YAML::Node& map, const std::string& path,
                                    const std::string& key, bool required = false);
  std::optional<int64_t> Int(const YAML::Node& map, const std::string& path,
                             const std::string& key, int64_t min, int64_t max,
                             bool required = false);
  std::optional<double> Double(const YAML::Node& map, const std::string& path,
                               const std::string& key, double min, double max,
                               bool min_exclusive = false, bool required = false);
  std::optional<bool> Bool(const YAML::Node& map, const std::string& path, const std::string& key);
  std::optional<std::string> Enum(const YAML::Node& map, const std::string& path,
                                  const std::string& key, const std::vector<std::string>& values);
  std::optional<Duration> DurationField(const YAML::Node& map, const std::string& path,
                                        const std::string& key, bool allow_zero = false);
  std::optional<Timestamp> Time(const YAML::Node& map, const std::string& path,
                                const std::string& key);
  // A size in bytes: a whole number with an optional unit, "512MiB", "4G",
  // "1.5GiB", "800000000" (K/M/G/T are powers of 1024, KB/MB/GB/TB of 1000).
  std::optional<int64_t> Bytes(const YAML::Node& map, const std::string& path, const std::string& key,
                               int64_t min, int64_t max);
  // A list of strings; when `values` is not empty each must be one of them.
  std::optional<std::vector<std::string>> StringList(const YAML::Node& map, const std::string& path,
                                                     const std::string& key,
                                                     const std::vector<std::string>& values = {});
  std::optional<std::vector<int64_t>> IntList(const YAML::Node& map, const std::string& path,
                                              const std::string& key, int64_t min, int64_t max);

  // Records an error at node's position about field `path`.
  void Error(const YAML::Node& node, const std::string& path, const std::string& message);
  // Records an error at the position of map[key] (or of map when key is absent).
  void ErrorAt(const YAML::Node& map, const std::string& key, const std::string& path,
               const std::string& message);

  bool ok() const { return errors_.empty(); }
  // OK, or INVALID_ARGUMENT whose message lists every error, one per line, and
  // whose field is the first error's field path.
  Status ToStatus() const;

  static std::string Join(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "." + key;
  }

 private:
  std::string Where(const YAML::Node& node) const;
  YAML::Node Get(const YAML::Node& map, const std::string& key) const;
  std::optional<std::string> Scalar(const YAML::Node& map, const std::string& path,
                                    const std::string& key, const char* expected);

  std::string file_;
  std::vector<std::pair<std::string, std::string>> errors_;  // field, message
};

}  // namespace carbon

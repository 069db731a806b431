// A strict parser of the Prometheus text exposition format (0.0.4) for tests:
// every line is a HELP, a TYPE or a sample; names and label names follow the
// data model's grammar; each family has HELP and TYPE once, before its
// samples, and its samples are contiguous; sample names fit the type
// (counters end in _total; histograms have _bucket with a "le" label, _sum
// and _count; summaries _sum and _count); label values are quoted with only
// \\, \" and \n escaped; values parse as floats; no series appears twice;
// histogram buckets are cumulative and the +Inf bucket equals _count.
#pragma once

#include <cmath>
#include <cstdlib>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace carbon::fakes {

struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromParse {
  std::vector<std::string> errors;  // empty when the text is valid
  std::map<std::string, std::string> types;  // family -> type
  std::vector<PromSample> samples;
  // The value of the sample with this name and exactly these labels; NaN if none.
  double Value(const std::string& name, const std::map<std::string, std::string>& labels = {}) const {
    for (const auto& s : samples)
      if (s.name == name && s.labels == labels) return s.value;
    return std::nan("");
  }
};

inline PromParse ParsePrometheus(const std::string& text) {
  PromParse out;
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  auto err = [&](size_t line, const std::string& what) {
    out.errors.push_back("line " + std::to_string(line) + ": " + what);
  };
  if (!text.empty() && text.back() != '\n') err(0, "the text does not end with a newline");
  std::map<std::string, std::string> help;
  std::set<std::string> closed;  // families whose samples have ended
  std::string current;           // the family whose samples are being read
  std::set<std::string> series;
  size_t n = 0, pos = 0;
  auto family_of = [&](const std::string& sample) -> std::string {
    for (const char* suffix : {"_bucket", "_sum", "_count", ""}) {
      const std::string s = suffix;
      if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
        std::string base = sample.substr(0, sample.size() - s.size());
        if (out.types.count(base) && (s.empty() || out.types[base] == "histogram" || out.types[base] == "summary"))
          return base;
      }
    }
    return "";
  };
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++n;
    if (line.empty()) {
      err(n, "empty line");
      continue;
    }
    if (line[0] == '#') {
      std::smatch m;
      static const std::regex kMeta("# (HELP|TYPE) ([^ ]+) (.*)");
      if (!std::regex_match(line, m, kMeta)) {
        err(n, "a comment that is neither HELP nor TYPE: " + line);
        continue;
      }
      const std::string name = m[2];
      if (!std::regex_match(name, kName)) err(n, "bad metric name " + name);
      if (closed.count(name) || (current == name && (m[1] == "HELP" ? help.count(name) : out.types.count(name))))
        err(n, "HELP or TYPE of " + name + " repeated or after its samples");
      if (m[1] == "HELP") {
        help[name] = m[3];
      } else {
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary", "untyped"};
        if (!kTypes.count(m[3])) err(n, "unknown type " + std::string(m[3]));
        out.types[name] = m[3];
        if (m[3] == "counter" && (name.size() < 7 || name.compare(name.size() - 6, 6, "_total") != 0))
          err(n, "counter " + name + " does not end in _total");
      }
      if (current != name) {
        if (!current.empty()) closed.insert(current);
        current = name;
      }
      continue;
    }
    // A sample: name{labels} value
    PromSample s;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!std::regex_match(s.name, kName)) err(n, "bad sample name " + s.name);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos) {
          err(n, "label without '='");
          break;
        }
        const std::string lname = line.substr(i, eq - i);
        if (!std::regex_match(lname, kLabel)) err(n, "bad label name " + lname);
        if (eq + 1 >= line.size() || line[eq + 1] != '"') {
          err(n, "label value not quoted");
          break;
        }
        std::string v;
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\') {
            ++j;
            if (j >= line.size() || (line[j] != '\\' && line[j] != '"' && line[j] != 'n')) err(n, "bad escape");
            v += j < line.size() && line[j] == 'n' ? '\n' : line[j < line.size() ? j : j - 1];
          } else {
            v += line[j];
          }
        }
        if (j >= line.size()) {
          err(n, "unterminated label value");
          break;
        }
        if (s.labels.count(lname)) err(n, "label " + lname + " repeated");
        s.labels[lname] = v;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size() || line[i] != '}') err(n, "labels not closed");
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      err(n, "no value");
      continue;
    }
    const std::string value = line.substr(i + 1);
    char* stop = nullptr;
    s.value = std::strtod(value.c_str(), &stop);
    if (value.empty() || *stop != '\0') err(n, "value '" + value + "' is not a float");
    const std::string fam = family_of(s.name);
    if (fam.empty()) {
      err(n, "sample " + s.name + " has no TYPE before it");
    } else {
      if (fam != current) err(n, "sample " + s.name + " is not with its family " + fam);
      if (!help.count(fam)) err(n, "family " + fam + " has no HELP");
      if (out.types[fam] == "histogram" && s.name == fam + "_bucket" && !s.labels.count("le"))
        err(n, "histogram bucket without le");
      if (out.types[fam] == "histogram" && s.name == fam) err(n, "bare histogram sample " + s.name);
    }
    std::string key = s.name;
    for (const auto& [k, v] : s.labels) key += "|" + k + "=" + v;
    if (!series.insert(key).second) err(n, "series repeated: " + key);
    out.samples.push_back(std::move(s));
  }
  // Histograms: buckets cumulative in le order, +Inf equals _count.
  for (const auto& [fam, type] : out.types) {
    if (type != "histogram") continue;
    std::map<std::string, std::vector<std::pair<double, double>>> by_series;  // other labels -> (le, count)
    std::map<std::string, double> counts;
    for (const auto& s : out.samples) {
      std::string rest;
      for (const auto& [k, v] : s.labels)
        if (k != "le") rest += k + "=" + v + ",";
      if (s.name == fam + "_bucket") {
        const std::string le = s.labels.at("le");
        by_series[rest].push_back({le == "+Inf" ? INFINITY : std::strtod(le.c_str(), nullptr), s.value});
      } else if (s.name == fam + "_count") {
        counts[rest] = s.value;
      }
    }
    for (auto& [rest, buckets] : by_series) {
      double prev_le = -INFINITY, prev = 0;
      for (const auto& [le, v] : buckets) {
        if (le <= prev_le) out.errors.push_back(fam + "{" + rest + "}: le not increasing");
        if (v < prev) out.errors.push_back(fam + "{" + rest + "}: buckets not cumulative");
        prev_le = le;
        prev = v;
      }
      if (buckets.empty() || !std::isinf(buckets.back().first))
        out.errors.push_back(fam + "{" + rest + "}: no +Inf bucket");
      else if (!counts.count(rest) || counts[rest] != buckets.back().second)
        out.errors.push_back(fam + "{" + rest + "}: +Inf bucket differs from _count");
    }
  }
  return out;
}

}  // namespace carbon::fakes

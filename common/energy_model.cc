#include "common/energy_model.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <regex>
#include <nlohmann/json.hpp>
#include <sstream>

namespace carbon::energy {

double KwhFromMicrojoules(double uj) { return uj * 1e-6 * kKwhPerJoule; }
double KwhFromMillijoules(double mj) { return mj * 1e-3 * kKwhPerJoule; }
double KwhFromPowerAndTime(double watts, double seconds) { return watts * seconds / 3600.0 / 1000.0; }

double WattsFromEnergies(double kwh_now, double kwh_before, double seconds) {
  // In this order, as CodeCarbon does: the last digit matches.
  return (kwh_now - kwh_before) / seconds * 3600.0 * 1000.0;
}

double RaplDeltaKwh(uint64_t before_uj, uint64_t now_uj, uint64_t max_range_uj) {
  double now = KwhFromMicrojoules(static_cast<double>(now_uj));
  double before = KwhFromMicrojoules(static_cast<double>(before_uj));
  if (now_uj >= before_uj) return now - before;
  // The counter wrapped: what remained to the top, then from zero to now.
  double max = KwhFromMicrojoules(static_cast<double>(max_range_uj));
  return now + max - before;
}

double CpuPowerAtLoad(double tdp_watts, double load) {
  load = std::clamp(load, 0.0, 1.0);
  return tdp_watts * (0.1 + 0.9 * load * load * load);
}

int EstimateDimmCount(double gb) {
  if (gb <= 2) return 1;
  if (gb <= 16) return 2;
  if (gb <= 32) return 4;
  if (gb <= 64) return 4;
  if (gb <= 128) return 8;
  // Large servers: the largest common DIMM that still gives at least 8 of
  // them, capped at 32 DIMMs.
  for (double size : {128.0, 64.0, 32.0, 16.0, 8.0, 4.0})
    if (size <= gb / 8) return std::min(32, static_cast<int>(std::ceil(gb / size)));
  return 8;
}

double RamPowerWatts(double gb, bool arm) {
  const int n = EstimateDimmCount(gb);
  const double per = arm ? 1.5 : 5.0;
  const double floor = arm ? 3.0 : per * 2;
  double p;
  if (n <= 4)
    p = per * n;
  else if (n <= 8)
    p = per * 4 + per * 0.9 * (n - 4);
  else if (n <= 16)
    p = per * 4 + per * 0.9 * 4 + per * 0.8 * (n - 8);
  else
    p = per * 4 + per * 0.9 * 4 + per * 0.8 * 8 + per * 0.7 * (n - 16);
  return std::max(floor, p);
}

StatusOr<std::vector<CpuTdp>> ParseCpuPowerCsv(const std::string& text, const std::string& source) {
  std::vector<CpuTdp> out;
  std::istringstream in(text);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (n == 1) {
      if (line != "Name,TDP")
        return InvalidArgument(source + ":1: expected the header Name,TDP, found '" + line + "'");
      continue;
    }
    if (line.empty()) continue;
    size_t comma = line.rfind(',');
    if (comma == std::string::npos)
      return InvalidArgument(source + ":" + std::to_string(n) + ": expected Name,TDP");
    char* end = nullptr;
    std::string tdp = line.substr(comma + 1);
    double w = std::strtod(tdp.c_str(), &end);
    // The upstream table has a few rows like "27.29.5" (a range that lost
    // its separator); they are skipped, as no CPU can be matched to them.
    if (tdp.empty() || *end != '\0' || w <= 0) continue;
    std::string name = line.substr(0, comma);
    if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = name.substr(1, name.size() - 2);
    out.push_back({name, w});
  }
  if (out.empty()) return InvalidArgument(source + ": no row with a TDP in watts (expected Name,TDP rows)");
  return out;
}

namespace {

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> Tokens(const std::string& s) {
  std::istringstream in(Lower(s));
  std::vector<std::string> out;
  std::string t;
  while (in >> t) out.push_back(t);
  return out;
}

}  // namespace

std::string NormalizeCpuName(const std::string& raw) {
  std::string s = raw;
  static const std::regex kMarks(R"(\((R|TM|r|tm)\))");
  static const std::regex kFreq(R"(\s*(CPU\s*)?@\s*[0-9.]+\s*[GM]Hz.*$)");
  static const std::regex kCores(R"(\s+[0-9]+-Core\s+Processor.*$)");
  static const std::regex kGen(R"(^[0-9]+(st|nd|rd|th)\s+Gen\s+)");
  static const std::regex kWords(R"(\s+(CPU|Processor)\b)");
  s = std::regex_replace(s, kMarks, "");
  s = std::regex_replace(s, kFreq, "");
  s = std::regex_replace(s, kCores, "");
  s = std::regex_replace(s, kGen, "");
  s = std::regex_replace(s, kWords, "");
  std::string out;
  // Collapse spaces, keep case.
  std::istringstream in(s);
  std::string t;
  while (in >> t) out += (out.empty() ? "" : " ") + t;
  return out;
}

std::optional<CpuTdp> MatchCpu(const std::string& raw, const std::vector<CpuTdp>& table) {
  for (const auto& row : table)
    if (row.name == raw) return row;
  const std::string norm = NormalizeCpuName(raw);
  if (norm.empty()) return std::nullopt;
  const std::string lnorm = Lower(norm);
  for (const auto& row : table)
    if (Lower(row.name) == lnorm) return row;
  // Every token of the model inside one row's name, and only one row.
  const auto want = Tokens(norm);
  std::optional<CpuTdp> found;
  for (const auto& row : table) {
    auto have = Tokens(row.name);
    bool all = std::all_of(want.begin(), want.end(),
                           [&](const std::string& w) { return std::find(have.begin(), have.end(), w) != have.end(); });
    if (!all) continue;
    if (found) return std::nullopt;  // ambiguous
    found = row;
  }
  return found;
}

StatusOr<CountryIntensities> CountryIntensities::Parse(const std::string& mix_text,
                                                      const std::string& per_source_text) {
  using nlohmann::json;
  CountryIntensities c;
  json mix, factors;
  try {
    mix = json::parse(mix_text);
    factors = json::parse(per_source_text);
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("CodeCarbon energy-mix data is not valid JSON: ") + e.what());
  }
  if (!mix.is_object() || !factors.is_object())
    return InvalidArgument("CodeCarbon energy-mix data: expected JSON objects");
  c.world_average_g_ = factors.value("world_average", 475.0);
  // Generation columns and the factor each one takes.
  static const std::pair<const char*, const char*> kSources[] = {
      {"coal_TWh", "coal"},   {"oil_TWh", "petroleum"},  {"gas_TWh", "natural_gas"},
      {"hydroelectricity_TWh", "hydroelectricity"},      {"nuclear_TWh", "nuclear"},
      {"solar_TWh", "solar"}, {"wind_TWh", "wind"}};
  for (auto& [iso, row] : mix.items()) {
    if (!row.is_object()) continue;
    double g = row.value("carbon_intensity", 0.0);
    if (g <= 0) {
      double total = row.value("total_TWh", 0.0), sum = 0;
      for (auto [col, factor] : kSources) sum += row.value(col, 0.0) * factors.value(factor, 0.0);
      g = total > 0 ? sum / total : 0;
    }
    if (g > 0) c.g_per_kwh_[iso] = g;
    if (row.contains("country_name") && row["country_name"].is_string()) c.names_[iso] = row["country_name"];
  }
  return c;
}

double CountryIntensities::GramsPerKwh(const std::string& iso3) const {
  auto it = g_per_kwh_.find(iso3);
  return it == g_per_kwh_.end() ? world_average_g_ : it->second;
}

double CountryIntensities::KgPerKwh(const std::string& iso3) const { return GramsPerKwh(iso3) * 0.001; }

std::optional<std::string> CountryIntensities::CountryName(const std::string& iso3) const {
  auto it = names_.find(iso3);
  if (it == names_.end()) return std::nullopt;
  return it->second;
}

}  // namespace carbon::energy

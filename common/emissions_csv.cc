#include "common/emissions_csv.h"

#include <gnu/libc-version.h>
#include <sys/utsname.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/energy_model.h"
#include "common/paths.h"
#include "common/time_util.h"

namespace carbon {

const std::array<const char*, kEmissionsColumns> kEmissionsHeader = {
    "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate",
    "cpu_power", "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed",
    "water_consumed", "country_name", "country_iso_code", "region", "cloud_provider", "cloud_region", "os",
    "python_version", "codecarbon_version", "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude",
    "latitude", "ram_total_size", "tracking_mode", "cpu_utilization_percent", "gpu_utilization_percent",
    "ram_utilization_percent", "ram_used_gb", "on_cloud", "pue", "wue"};

std::string PythonFloat(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (v == 0) return std::signbit(v) ? "-0.0" : "0.0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);  // "-1.2345e-05": the shortest round-trip digits
  bool neg = sci[0] == '-';
  std::string body = neg ? sci.substr(1) : sci;
  size_t e = body.find('e');
  std::string mant = body.substr(0, e);
  int exp = std::atoi(body.c_str() + e + 1);
  std::string digits;
  for (char c : mant)
    if (c != '.') digits += c;
  std::string out;
  if (exp >= -4 && exp < 16) {  // Python: fixed notation for 1e-4 <= |v| < 1e16
    if (exp >= 0) {
      if (static_cast<int>(digits.size()) <= exp + 1) {
        out = digits + std::string(static_cast<size_t>(exp + 1 - static_cast<int>(digits.size())), '0') + ".0";
      } else {
        out = digits.substr(0, static_cast<size_t>(exp + 1)) + "." + digits.substr(static_cast<size_t>(exp + 1));
      }
    } else {
      out = "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
    }
  } else {
    out = digits.substr(0, 1);
    if (digits.size() > 1) out += "." + digits.substr(1);
    char eb[24];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    out += eb;
  }
  return neg ? "-" + out : out;
}

namespace {

std::string Cell(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

std::string EmissionsCsvHeader() {
  std::string h;
  for (size_t i = 0; i < kEmissionsColumns; ++i) h += (i ? "," : "") + std::string(kEmissionsHeader[i]);
  return h;
}

std::string EmissionsCsvRow(const EmissionsRecord& r) {
  auto opt_d = [](const std::optional<double>& v) { return v ? PythonFloat(*v) : std::string(); };
  auto opt_i = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string(); };
  const std::string cells[kEmissionsColumns] = {
      Cell(r.timestamp), Cell(r.project_name), Cell(r.run_id), Cell(r.experiment_id), PythonFloat(r.duration),
      PythonFloat(r.emissions), PythonFloat(r.emissions_rate), PythonFloat(r.cpu_power), PythonFloat(r.gpu_power),
      PythonFloat(r.ram_power), PythonFloat(r.cpu_energy), PythonFloat(r.gpu_energy), PythonFloat(r.ram_energy),
      PythonFloat(r.energy_consumed), PythonFloat(r.water_consumed), Cell(r.country_name), Cell(r.country_iso_code),
      Cell(r.region), Cell(r.cloud_provider), Cell(r.cloud_region), Cell(r.os), Cell(r.python_version),
      Cell(r.codecarbon_version), opt_i(r.cpu_count), Cell(r.cpu_model), opt_i(r.gpu_count), Cell(r.gpu_model),
      opt_d(r.longitude), opt_d(r.latitude), opt_d(r.ram_total_size), Cell(r.tracking_mode),
      PythonFloat(r.cpu_utilization_percent), PythonFloat(r.gpu_utilization_percent),
      PythonFloat(r.ram_utilization_percent), PythonFloat(r.ram_used_gb), Cell(r.on_cloud), PythonFloat(r.pue),
      PythonFloat(r.wue)};
  std::string line;
  for (size_t i = 0; i < kEmissionsColumns; ++i) line += (i ? "," : "") + cells[i];
  return line;
}

std::string EmissionsJson(const EmissionsRecord& r) {
  using J = nlohmann::ordered_json;
  auto od = [](const std::optional<double>& v) { return v ? J(*v) : J(nullptr); };
  auto oi = [](const std::optional<int64_t>& v) { return v ? J(*v) : J(nullptr); };
  J o;
  o["timestamp"] = r.timestamp;
  o["project_name"] = r.project_name;
  o["run_id"] = r.run_id;
  o["experiment_id"] = r.experiment_id;
  o["duration"] = r.duration;
  o["emissions"] = r.emissions;
  o["emissions_rate"] = r.emissions_rate;
  o["cpu_power"] = r.cpu_power;
  o["gpu_power"] = r.gpu_power;
  o["ram_power"] = r.ram_power;
  o["cpu_energy"] = r.cpu_energy;
  o["gpu_energy"] = r.gpu_energy;
  o["ram_energy"] = r.ram_energy;
  o["energy_consumed"] = r.energy_consumed;
  o["water_consumed"] = r.water_consumed;
  o["country_name"] = r.country_name;
  o["country_iso_code"] = r.country_iso_code;
  o["region"] = r.region;
  o["cloud_provider"] = r.cloud_provider;
  o["cloud_region"] = r.cloud_region;
  o["os"] = r.os;
  o["python_version"] = r.python_version;
  o["codecarbon_version"] = r.codecarbon_version;
  o["cpu_count"] = oi(r.cpu_count);
  o["cpu_model"] = r.cpu_model;
  o["gpu_count"] = oi(r.gpu_count);
  o["gpu_model"] = r.gpu_model;
  o["longitude"] = od(r.longitude);
  o["latitude"] = od(r.latitude);
  o["ram_total_size"] = od(r.ram_total_size);
  o["tracking_mode"] = r.tracking_mode;
  o["cpu_utilization_percent"] = r.cpu_utilization_percent;
  o["gpu_utilization_percent"] = r.gpu_utilization_percent;
  o["ram_utilization_percent"] = r.ram_utilization_percent;
  o["ram_used_gb"] = r.ram_used_gb;
  o["on_cloud"] = r.on_cloud;
  o["pue"] = r.pue;
  o["wue"] = r.wue;
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);  // names may not be UTF-8
}

namespace {

struct CountryCode {
  const char* alpha2;
  const char* alpha3;
  const char* name;
};
constexpr CountryCode kCountries[] = {
#include "common/country_codes.inc"
};

}  // namespace

std::optional<Country> CountryOfZone(const std::string& zone) {
  std::string code = zone.substr(0, zone.find('-'));
  for (char& c : code) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (code.size() != 2 && !(code.size() == 3 && zone.size() == 3)) return std::nullopt;
  for (const CountryCode& c : kCountries)
    if (code == (code.size() == 2 ? c.alpha2 : c.alpha3)) return Country{c.alpha3, c.name};
  return std::nullopt;
}

std::string RegionOfZone(const std::string& zone) {
  std::string z = zone;
  for (char& c : z) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Canada: Electricity Maps' zone per province or territory.
  static const std::pair<const char*, const char*> kCanada[] = {
      {"CA-AB", "alberta"},      {"CA-BC", "british columbia"},          {"CA-MB", "manitoba"},
      {"CA-NB", "new brunswick"}, {"CA-NL", "newfoundland and labrador"}, {"CA-NS", "nova scotia"},
      {"CA-NT", "northwest territories"}, {"CA-NU", "nunavut"},         {"CA-ON", "ontario"},
      {"CA-PE", "prince edward island"},  {"CA-QC", "quebec"},          {"CA-SK", "saskatchewan"},
      {"CA-YT", "yukon"}};
  // The United States: the balancing authorities that lie in one state
  // (a prefix covers a family of them: every US-CAL- one is in California).
  // One that spans states (PJM, MISO, ISO New England, BPA, SOCO...) has none.
  static const std::pair<const char*, const char*> kUsa[] = {
      {"US-CAL-", "california"},   {"US-TEX-", "texas"},           {"US-NY-", "new york"},
      {"US-FLA-", "florida"},      {"US-HI", "hawaii"},            {"US-AK", "alaska"},
      {"US-SW-AZPS", "arizona"},   {"US-SW-SRP", "arizona"},       {"US-SW-TEPC", "arizona"},
      {"US-SW-PNM", "new mexico"}, {"US-NW-PGE", "oregon"},        {"US-NW-SCL", "washington"},
      {"US-NW-TPWR", "washington"}, {"US-NW-PSEI", "washington"},  {"US-NW-CHPD", "washington"},
      {"US-NW-DOPD", "washington"}, {"US-NW-GCPD", "washington"},  {"US-NW-NEVP", "nevada"},
      {"US-CAR-SCEG", "south carolina"}, {"US-CAR-SC", "south carolina"}};
  auto match = [&z](const char* key) {
    const std::string k = key;
    // A full zone id, or a family prefix ending in '-'; "US-CAR-SC" is not "US-CAR-SCEG".
    return k.back() == '-' ? z.rfind(k, 0) == 0 : (z == k || z.rfind(k + "-", 0) == 0);
  };
  for (const auto& [key, name] : kCanada)
    if (match(key)) return name;
  for (const auto& [key, name] : kUsa)
    if (match(key)) return name;
  return "";
}

std::string PlatformName() {
  // The machine does not change under a running process: worked out once.
  static const std::string name = [] {
    utsname u{};
    if (::uname(&u) != 0) return std::string();
    // platform.platform(): system-release-machine-with-libc, '-' never doubled.
    std::string out =
        std::string(u.sysname) + "-" + u.release + "-" + u.machine + "-with-glibc" + gnu_get_libc_version();
    for (char& c : out)
      if (c == ' ' || c == '/' || c == '(' || c == ')') c = '_';
    std::string::size_type at;
    while ((at = out.find("--")) != std::string::npos) out.erase(at, 1);
    return out;
  }();
  return name;
}

namespace {

EmissionsRecord Row(const JobRecord& job, const EpochRecord& e) {
  EmissionsRecord r;
  r.timestamp = FormatTime(e.at).substr(0, 19);
  r.project_name = job.name;
  r.run_id = "carbond-job-" + std::to_string(job.id) + "-attempt-" + std::to_string(e.attempt);
  r.experiment_id = "carbond-job-" + std::to_string(job.id);
  // The span the energy covers, so that power = energy / duration (issue 19).
  r.duration = e.energy_s && *e.energy_s > 0 ? *e.energy_s : e.wall_s;
  r.emissions = e.kg_co2.value_or(0);
  r.emissions_rate = r.duration > 0 ? r.emissions / r.duration : 0;
  auto watts = [&](double kwh, double fallback) {
    return e.energy_s && *e.energy_s > 0 ? energy::WattsFromEnergies(kwh, 0, *e.energy_s) : fallback;
  };
  r.cpu_power = watts(e.cpu_kwh, e.cpu_w);
  r.gpu_power = watts(e.gpu_kwh, e.gpu_w);
  r.ram_power = watts(e.ram_kwh, e.ram_w);
  r.cpu_energy = e.cpu_kwh;
  r.gpu_energy = e.gpu_kwh;
  r.ram_energy = e.ram_kwh;
  r.energy_consumed = e.energy_kwh;
  // CodeCarbon's place: the region only below a country (a US state, a
  // Canadian province), and a country its dashboard can read even where the
  // zone names none.
  r.region = RegionOfZone(e.zone);
  const Country c = CountryOfZone(e.zone).value_or(kNoCountry);
  r.country_iso_code = c.iso3;
  r.country_name = c.name;
  // The worker's machine (the one that trained); this one's name for rows
  // stored before the worker reported it.
  const EpochHost& h = e.host;
  r.os = h.os.empty() ? PlatformName() : h.os;
  r.cpu_count = h.cpu_count;
  r.cpu_model = h.cpu_model;
  r.gpu_count = h.gpu_count;
  r.gpu_model = h.gpu_model;
  r.ram_total_size = h.ram_total_gib;
  r.cpu_utilization_percent = h.cpu_utilization_pct.value_or(0);
  r.ram_utilization_percent = h.ram_utilization_pct.value_or(0);
  r.ram_used_gb = h.ram_used_gib.value_or(0);
  if (!e.tracking_mode.empty()) r.tracking_mode = e.tracking_mode;
  return r;
}

}  // namespace

std::vector<EmissionsRecord> EmissionsRows(const JobRecord& job, const std::vector<EpochRecord>& epochs) {
  std::vector<EmissionsRecord> rows;
  for (const auto& e : epochs) rows.push_back(Row(job, e));
  return rows;
}

EmissionsRecord EmissionsTotal(const JobRecord& job, const std::vector<EpochRecord>& epochs) {
  const std::vector<EmissionsRecord> rows = EmissionsRows(job, epochs);
  EmissionsRecord t = rows.empty() ? EmissionsRecord{} : rows.back();
  t.project_name = job.name;
  t.run_id = "carbond-job-" + std::to_string(job.id);
  if (!epochs.empty()) t.timestamp = FormatTime(job.finished.value_or(epochs.back().at)).substr(0, 19);
  t.duration = t.emissions = t.cpu_energy = t.gpu_energy = t.ram_energy = t.energy_consumed = 0;
  t.cpu_utilization_percent = t.ram_utilization_percent = t.ram_used_gb = 0;
  for (const auto& r : rows) {
    // Utilisation: the mean over the run, each epoch weighted by its duration.
    t.cpu_utilization_percent += r.cpu_utilization_percent * r.duration;
    t.ram_utilization_percent += r.ram_utilization_percent * r.duration;
    t.ram_used_gb += r.ram_used_gb * r.duration;
    t.duration += r.duration;
    t.emissions += r.emissions;
    t.cpu_energy += r.cpu_energy;
    t.gpu_energy += r.gpu_energy;
    t.ram_energy += r.ram_energy;
    t.energy_consumed += r.energy_consumed;
  }
  t.emissions_rate = t.duration > 0 ? t.emissions / t.duration : 0;
  for (double* v : {&t.cpu_utilization_percent, &t.ram_utilization_percent, &t.ram_used_gb})
    *v = t.duration > 0 ? *v / t.duration : 0;
  // Mean powers over the whole run.
  t.cpu_power = t.duration > 0 ? energy::WattsFromEnergies(t.cpu_energy, 0, t.duration) : 0;
  t.gpu_power = t.duration > 0 ? energy::WattsFromEnergies(t.gpu_energy, 0, t.duration) : 0;
  t.ram_power = t.duration > 0 ? energy::WattsFromEnergies(t.ram_energy, 0, t.duration) : 0;
  return t;
}

std::string RenderEmissionsCsv(const std::vector<EmissionsRecord>& rows) {
  std::string csv = EmissionsCsvHeader() + "\n";
  for (const auto& r : rows) csv += EmissionsCsvRow(r) + "\n";
  return csv;
}

std::string RenderEmissionsJson(const std::vector<EmissionsRecord>& rows) {
  nlohmann::ordered_json doc = nlohmann::ordered_json::array();
  for (const auto& r : rows) doc.push_back(nlohmann::ordered_json::parse(EmissionsJson(r)));
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Status WriteEmissionsFiles(const std::string& run_dir, const std::vector<EmissionsRecord>& rows,
                           const EmissionsRecord* total) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/emissions.csv", RenderEmissionsCsv(rows)));
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/emissions.json", RenderEmissionsJson(rows)));
  if (!total) return Status();
  RETURN_IF_ERROR(WriteFileAtomically(run_dir + "/emissions-total.csv", RenderEmissionsCsv({*total})));
  return WriteFileAtomically(run_dir + "/emissions-total.json", RenderEmissionsJson({*total}));
}

}  // namespace carbon

#include "common/emissions_csv.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

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
  return o.dump();
}

}  // namespace carbon

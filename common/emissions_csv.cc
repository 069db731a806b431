#include "common/emissions_csv.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

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

}  // namespace carbon

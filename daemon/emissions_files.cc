#include "daemon/emissions_files.h"

#include <sys/utsname.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/emissions_csv.h"
#include "common/time_util.h"

namespace carbon {
namespace {

std::string Os() {
  utsname u{};
  if (::uname(&u) != 0) return "";
  return std::string(u.sysname) + "-" + u.release + "-" + u.machine;
}

EmissionsRecord Row(const JobRecord& job, const EpochRecord& e) {
  EmissionsRecord r;
  r.timestamp = FormatTime(e.at).substr(0, 19);
  r.project_name = job.name;
  r.run_id = "carbond-job-" + std::to_string(job.id) + "-attempt-" + std::to_string(e.attempt);
  r.experiment_id = "carbond-job-" + std::to_string(job.id);
  r.duration = e.wall_s;
  r.emissions = e.kg_co2.value_or(0);
  r.emissions_rate = e.wall_s > 0 ? r.emissions / e.wall_s : 0;
  r.cpu_power = e.cpu_w;
  r.gpu_power = e.gpu_w;
  r.ram_power = e.ram_w;
  r.cpu_energy = e.cpu_kwh;
  r.gpu_energy = e.gpu_kwh;
  r.ram_energy = e.ram_kwh;
  r.energy_consumed = e.energy_kwh;
  r.region = e.zone;
  r.os = Os();
  return r;
}

Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Unavailable("cannot write " + tmp);
    out << text;
    if (!out.flush()) return Unavailable("cannot write " + tmp);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp + " to " + path);
  return Status();
}

}  // namespace

Status WriteEmissionsFiles(const std::string& run_dir, const JobRecord& job, const std::vector<EpochRecord>& epochs,
                           bool with_total) {
  if (run_dir.empty()) return Status();
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  std::vector<EmissionsRecord> rows;
  for (const auto& e : epochs) rows.push_back(Row(job, e));
  if (with_total && !epochs.empty()) {
    EmissionsRecord t = rows.back();
    t.project_name = job.name + " (total)";
    t.run_id = "carbond-job-" + std::to_string(job.id);
    t.timestamp = FormatTime(job.finished.value_or(epochs.back().at)).substr(0, 19);
    t.duration = t.emissions = t.cpu_energy = t.gpu_energy = t.ram_energy = t.energy_consumed = 0;
    for (const auto& r : rows) {
      t.duration += r.duration;
      t.emissions += r.emissions;
      t.cpu_energy += r.cpu_energy;
      t.gpu_energy += r.gpu_energy;
      t.ram_energy += r.ram_energy;
      t.energy_consumed += r.energy_consumed;
    }
    t.emissions_rate = t.duration > 0 ? t.emissions / t.duration : 0;
    // Mean powers over the whole run.
    t.cpu_power = t.duration > 0 ? t.cpu_energy / t.duration * 3600.0 * 1000.0 : 0;
    t.gpu_power = t.duration > 0 ? t.gpu_energy / t.duration * 3600.0 * 1000.0 : 0;
    t.ram_power = t.duration > 0 ? t.ram_energy / t.duration * 3600.0 * 1000.0 : 0;
    rows.push_back(t);
  }
  std::string csv = EmissionsCsvHeader() + "\n";
  nlohmann::ordered_json doc = nlohmann::ordered_json::array();
  for (const auto& r : rows) {
    csv += EmissionsCsvRow(r) + "\n";
    doc.push_back(nlohmann::ordered_json::parse(EmissionsJson(r)));
  }
  RETURN_IF_ERROR(WriteAtomically(run_dir + "/emissions.csv", csv));
  return WriteAtomically(run_dir + "/emissions.json", doc.dump(2) + "\n");
}

}  // namespace carbon

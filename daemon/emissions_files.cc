#include "daemon/emissions_files.h"

#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/emissions_csv.h"
#include "common/paths.h"
#include "common/time_util.h"

namespace carbon {

Status WriteEmissionsFiles(const std::string& run_dir, const JobRecord& job, const std::vector<EpochRecord>& epochs,
                           bool with_total) {
  if (run_dir.empty()) return Status();
  return WriteEmissionsFiles(run_dir, EmissionsRows(job, epochs, with_total));
}

Status WriteGridFile(const std::string& run_dir, const std::string& zone, double gco2_per_kwh,
                     const std::string& source, Timestamp at) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  nlohmann::ordered_json j = {
      {"zone", zone}, {"gco2_per_kwh", gco2_per_kwh}, {"source", source}, {"at", FormatTime(at)}};
  return WriteFileAtomically(run_dir + "/grid.json", j.dump() + "\n");
}

}  // namespace carbon

#include "daemon/emissions_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "common/emissions_csv.h"
#include "common/time_util.h"

namespace carbon {
namespace {

// Through a temporary file renamed over `path`; neither is followed if it
// is a symbolic link (rename replaces a link at `path` itself).
Status WriteAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd < 0) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok) return Unavailable("cannot write " + tmp + ": " + std::strerror(errno));
  if (std::rename(tmp.c_str(), path.c_str()) != 0) return Unavailable("cannot rename " + tmp + " to " + path);
  return Status();
}

}  // namespace

Status WriteEmissionsFiles(const std::string& run_dir, const JobRecord& job, const std::vector<EpochRecord>& epochs,
                           bool with_total) {
  if (run_dir.empty()) return Status();
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  const std::vector<EmissionsRecord> rows = EmissionsRows(job, epochs, with_total);
  RETURN_IF_ERROR(WriteAtomically(run_dir + "/emissions.csv", RenderEmissionsCsv(rows)));
  return WriteAtomically(run_dir + "/emissions.json", RenderEmissionsJson(rows));
}

Status WriteGridFile(const std::string& run_dir, const std::string& zone, double gco2_per_kwh,
                     const std::string& source, Timestamp at) {
  std::error_code ec;
  std::filesystem::create_directories(run_dir, ec);
  nlohmann::ordered_json j = {
      {"zone", zone}, {"gco2_per_kwh", gco2_per_kwh}, {"source", source}, {"at", FormatTime(at)}};
  return WriteAtomically(run_dir + "/grid.json", j.dump() + "\n");
}

}  // namespace carbon

#include "daemon/core/run_dir.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <spdlog/spdlog.h>

namespace carbon {

namespace fs = std::filesystem;

Status PrepareRunDir(const std::string& run_dir, int64_t job_id, bool first_attempt) {
  struct stat st {};
  if (::lstat(run_dir.c_str(), &st) != 0) {
    std::error_code ec;
    fs::create_directories(fs::path(run_dir).parent_path(), ec);
    if (::mkdir(run_dir.c_str(), 0750) != 0 && errno != EEXIST)
      return Unavailable("cannot create run directory " + run_dir + ": " + std::strerror(errno));
    return Status();
  }
  if (S_ISLNK(st.st_mode))
    return FailedPrecondition("run directory " + run_dir +
                              " is a symbolic link; carbond writes only into directories it made (remove the link)");
  if (!S_ISDIR(st.st_mode)) return FailedPrecondition("run directory " + run_dir + " is not a directory");
  if (st.st_uid != ::geteuid())
    return FailedPrecondition("run directory " + run_dir + " belongs to uid " + std::to_string(st.st_uid) +
                              ", not to carbond's user (uid " + std::to_string(::geteuid()) + ")");
  std::error_code ec;
  if (!first_attempt || fs::is_empty(run_dir, ec)) return Status();
  const std::string aside = run_dir + ".stale-" + std::to_string(::time(nullptr));
  if (::rename(run_dir.c_str(), aside.c_str()) != 0)
    return Unavailable("cannot move the stale run directory " + run_dir + " aside: " + std::strerror(errno));
  spdlog::warn("job {}: run directory {} held files from before this job (an earlier database?); moved them to {}",
               job_id, run_dir, aside);
  if (::mkdir(run_dir.c_str(), 0750) != 0)
    return Unavailable("cannot create run directory " + run_dir + ": " + std::strerror(errno));
  return Status();
}

}  // namespace carbon

// A job's run directory (<runs_dir>/<id>): checkpoints, job.yaml, grid.json,
// worker.log, emissions. Its path comes from the job's id only, never from
// anything in the job spec.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace carbon {

// Makes `run_dir` (mode 0750) or checks the existing one: a real directory,
// never a symbolic link, owned by carbond's user (FAILED_PRECONDITION
// otherwise, naming it). On a job's first attempt the directory must be
// empty: files there are left from an earlier database whose job had the
// same id, and are moved aside to <run_dir>.stale-<unix time> (logged), so a
// new job never resumes another job's checkpoint.
Status PrepareRunDir(const std::string& run_dir, int64_t job_id, bool first_attempt);

}  // namespace carbon

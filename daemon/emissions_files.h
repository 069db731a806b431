// Files carbond writes in a job's run directory.
//
// emissions.csv and emissions.json, CodeCarbon-
// compatible (common/emissions_csv.h): one row per finished epoch and, once
// the job has succeeded, a last row whose project_name ends in " (total)"
// with the sums (energies, emissions, duration) and the mean powers. Both
// files are rewritten whole (temp file + rename) after every change.
#pragma once

#include <string>
#include <vector>

#include "common/clock.h"
#include "common/job_record.h"
#include "common/status.h"

namespace carbon {

Status WriteEmissionsFiles(const std::string& run_dir, const JobRecord& job, const std::vector<EpochRecord>& epochs,
                           bool with_total);

// grid.json, the live intensity the worker charges its energy at (read by
// worker/energy_meters.h GridFeed): {"zone", "gco2_per_kwh", "source", "at"}.
Status WriteGridFile(const std::string& run_dir, const std::string& zone, double gco2_per_kwh,
                     const std::string& source, Timestamp at);

}  // namespace carbon

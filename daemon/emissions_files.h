// emissions.csv and emissions.json in a job's run directory, CodeCarbon-
// compatible (common/emissions_csv.h): one row per finished epoch and, once
// the job has succeeded, a last row whose project_name ends in " (total)"
// with the sums (energies, emissions, duration) and the mean powers. Both
// files are rewritten whole (temp file + rename) after every change.
#pragma once

#include <string>
#include <vector>

#include "common/job_record.h"
#include "common/status.h"

namespace carbon {

Status WriteEmissionsFiles(const std::string& run_dir, const JobRecord& job, const std::vector<EpochRecord>& epochs,
                           bool with_total);

}  // namespace carbon

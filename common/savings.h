// Counterfactual savings: what a finished job would have emitted had it
// started at submission, from the intensity recorded after submission. Pure.
#pragma once

#include <optional>
#include <string>

#include "common/intensity.h"
#include "common/status.h"

namespace carbon {

struct JobSavings {
  int64_t job_id = 0;
  std::string zone;
  Timestamp computed_at{};
  Duration run_time{};
  double run_mean_gco2_per_kwh = 0;             // recorded, over [started, finished)
  double counterfactual_mean_gco2_per_kwh = 0;  // recorded, over [submitted, submitted + run time)
  double saving_pct = 0;                        // 1 - run / counterfactual, at constant power
  std::optional<double> energy_kwh;             // measured; absent until energy is measured
  std::optional<double> saving_kg;              // energy x (counterfactual - run)
  std::string note;
};

// `recorded` must be sorted and cover both windows (at least one reading
// overlapping each); otherwise FAILED_PRECONDITION saying which is missing.
StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted, Timestamp started,
                                    Timestamp finished, std::optional<double> energy_kwh);

}  // namespace carbon

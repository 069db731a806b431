// Counterfactual savings: what a finished job would have emitted had it
// started at submission, from the intensity recorded after submission. Pure.
#pragma once

#include <optional>
#include <string>

#include "common/intensity.h"
#include "common/segments.h"
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
  // A job that ran away from its first-listed site (issue 17): the zone the
  // counterfactual is in ("" when it is `zone`), and the saving split into
  // time (baseline zone at submission vs during the run) and place (baseline
  // zone vs `zone`, both during the run); they add up to saving_pct.
  std::string baseline_zone;
  double time_saving_pct = 0;
  double place_saving_pct = 0;
};

// `recorded` must be sorted and cover both windows (at least one reading
// overlapping each); otherwise FAILED_PRECONDITION saying which is missing.
// With `baseline` (the recorded intensity of the first-listed site's zone,
// when the job ran in another), the counterfactual is there and the saving
// splits into time and place.
StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted, Timestamp started,
                                    Timestamp finished, std::optional<double> energy_kwh,
                                    const IntensitySeries* baseline = nullptr);
// An interruptible job's run in several segments (sorted, disjoint): the run
// mean over their time, the counterfactual over as much time from submission.
StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted,
                                    const std::vector<Segment>& runs, std::optional<double> energy_kwh,
                                    const IntensitySeries* baseline = nullptr);

}  // namespace carbon

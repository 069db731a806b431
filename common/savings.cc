#include "common/savings.h"

#include "common/time_util.h"

namespace carbon {

StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted, Timestamp started,
                                    Timestamp finished, std::optional<double> energy_kwh) {
  if (finished <= started) return FailedPrecondition("the run has no duration");
  const auto run = finished - started;
  const Timestamp cf_end = submitted + run;
  if (SliceSorted(recorded, started, finished).empty())
    return FailedPrecondition("no intensity recorded during the run (" + FormatTime(started) + " .. " +
                              FormatTime(finished) + ")");
  if (SliceSorted(recorded, submitted, cf_end).empty())
    return FailedPrecondition("no intensity recorded after submission (" + FormatTime(submitted) + " .. " +
                              FormatTime(cf_end) + ")");
  JobSavings s;
  s.run_time = std::chrono::duration_cast<Duration>(run);
  s.run_mean_gco2_per_kwh = MeanIntervals(recorded, started, finished);
  s.counterfactual_mean_gco2_per_kwh = MeanIntervals(recorded, submitted, cf_end);
  s.saving_pct = s.counterfactual_mean_gco2_per_kwh > 0
                     ? 100 * (1 - s.run_mean_gco2_per_kwh / s.counterfactual_mean_gco2_per_kwh)
                     : 0;
  s.energy_kwh = energy_kwh;
  if (energy_kwh)
    s.saving_kg = *energy_kwh * (s.counterfactual_mean_gco2_per_kwh - s.run_mean_gco2_per_kwh) / 1000.0;
  else
    s.note = "energy not measured yet: the saving is the share of emissions at constant power";
  return s;
}

}  // namespace carbon

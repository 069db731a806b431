#include "common/savings.h"

#include "common/time_util.h"

namespace carbon {

StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted, Timestamp started,
                                    Timestamp finished, std::optional<double> energy_kwh,
                                    const IntensitySeries* baseline) {
  if (finished <= started) return FailedPrecondition("the run has no duration");
  const auto run = finished - started;
  const Timestamp cf_end = submitted + run;
  if (SliceSorted(recorded, started, finished).empty())
    return FailedPrecondition("no intensity recorded during the run (" + FormatTime(started) + " .. " +
                              FormatTime(finished) + ")");
  const IntensitySeries& base = baseline ? *baseline : recorded;
  if (SliceSorted(base, submitted, cf_end).empty())
    return FailedPrecondition(std::string("no intensity recorded after submission") +
                              (baseline ? " in the first-listed site's zone" : "") + " (" + FormatTime(submitted) +
                              " .. " + FormatTime(cf_end) + ")");
  if (baseline && SliceSorted(base, started, finished).empty())
    return FailedPrecondition("no intensity recorded in the first-listed site's zone during the run");
  JobSavings s;
  s.run_time = std::chrono::duration_cast<Duration>(run);
  s.run_mean_gco2_per_kwh = MeanIntervals(recorded, started, finished);
  s.counterfactual_mean_gco2_per_kwh = MeanIntervals(base, submitted, cf_end);
  const double c = s.counterfactual_mean_gco2_per_kwh;
  s.saving_pct = c > 0 ? 100 * (1 - s.run_mean_gco2_per_kwh / c) : 0;
  // Had it run when it did, but at the first-listed site: the rest is place.
  const double same_time_at_base = baseline ? MeanIntervals(base, started, finished) : s.run_mean_gco2_per_kwh;
  s.time_saving_pct = c > 0 ? 100 * (c - same_time_at_base) / c : 0;
  s.place_saving_pct = s.saving_pct - s.time_saving_pct;
  s.energy_kwh = energy_kwh;
  if (energy_kwh)
    s.saving_kg = *energy_kwh * (s.counterfactual_mean_gco2_per_kwh - s.run_mean_gco2_per_kwh) / 1000.0;
  else
    s.note = "energy not measured yet: the saving is the share of emissions at constant power";
  return s;
}

}  // namespace carbon

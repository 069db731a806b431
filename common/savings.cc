#include "common/savings.h"

#include "common/time_util.h"

namespace carbon {

StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted, Timestamp started,
                                    Timestamp finished, std::optional<double> energy_kwh,
                                    const IntensitySeries* baseline) {
  return ComputeSavings(recorded, submitted, std::vector<Segment>{{started, finished}}, energy_kwh, baseline);
}

StatusOr<JobSavings> ComputeSavings(const IntensitySeries& recorded, Timestamp submitted,
                                    const std::vector<Segment>& runs, std::optional<double> energy_kwh,
                                    const IntensitySeries* baseline) {
  Timestamp::duration run{};
  for (const Segment& r : runs) run += r.end > r.start ? r.end - r.start : Timestamp::duration{};
  if (runs.empty() || run <= Timestamp::duration{}) return FailedPrecondition("the run has no duration");
  const Timestamp started = runs.front().start, finished = runs.back().end;
  const Timestamp cf_end = submitted + run;
  // Each segment's intensity weighted by its time.
  auto mean_over_runs = [&](const IntensitySeries& s) {
    double sum = 0;
    for (const Segment& r : runs)
      if (r.end > r.start) sum += MeanIntervals(s, r.start, r.end) * std::chrono::duration<double>(r.end - r.start).count();
    return sum / std::chrono::duration<double>(run).count();
  };
  for (const Segment& r : runs)
    if (r.end > r.start && SliceSorted(recorded, r.start, r.end).empty())
      return FailedPrecondition("no intensity recorded during the run (" + FormatTime(r.start) + " .. " +
                                FormatTime(r.end) + ")");
  const IntensitySeries& base = baseline ? *baseline : recorded;
  if (SliceSorted(base, submitted, cf_end).empty())
    return FailedPrecondition(std::string("no intensity recorded after submission") +
                              (baseline ? " in the first-listed site's zone" : "") + " (" + FormatTime(submitted) +
                              " .. " + FormatTime(cf_end) + ")");
  if (baseline && SliceSorted(base, started, finished).empty())
    return FailedPrecondition("no intensity recorded in the first-listed site's zone during the run");
  JobSavings s;
  s.run_time = std::chrono::duration_cast<Duration>(run);
  s.run_mean_gco2_per_kwh = mean_over_runs(recorded);
  s.counterfactual_mean_gco2_per_kwh = MeanIntervals(base, submitted, cf_end);
  const double c = s.counterfactual_mean_gco2_per_kwh;
  s.saving_pct = c > 0 ? 100 * (1 - s.run_mean_gco2_per_kwh / c) : 0;
  // Had it run when it did, but at the first-listed site: the rest is place.
  const double same_time_at_base = baseline ? mean_over_runs(base) : s.run_mean_gco2_per_kwh;
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

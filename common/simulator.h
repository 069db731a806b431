// The scheduling simulator: replays a recorded intensity trace on a virtual
// clock through the very release policies the daemon runs (common/policy.h),
// for N jobs arriving over the trace, and compares each with starting at once
// (immediate) and with the oracle (the best start in the same window, knowing
// the future exactly). In-process and deterministic; no daemon needed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/intensity.h"
#include "common/status.h"

namespace carbon {

struct SimOptions {
  std::string policy = "forecast";   // immediate | threshold | forecast
  int64_t jobs = 1000;
  Duration duration = std::chrono::hours(4);
  Duration max_wait = std::chrono::hours(24);
  double threshold = 300;            // threshold policy, gCO2/kWh
  std::string forecast = "perfect";  // perfect | noise | own
  double noise_sigma = 0.10;         // noise: relative sd of each forecast point
  Duration horizon = std::chrono::hours(48);
  uint64_t seed = 1;
  // Several zones (SimulateSites): jobs running at once in one zone; 0: no limit.
  int64_t slots_per_site = 0;
  double site_switch_margin = 0.05;
  // Interruptible jobs (issue 18): planned as segments (common/segments.h);
  // each resume costs resume_overhead of run time. The oracle plans the
  // same way on the true trace. One zone only.
  bool interruptible = false;
  Duration min_segment = std::chrono::hours(1);
  Duration resume_overhead = std::chrono::minutes(2);
};

// Parses "perfect", "own", "noise:0.1" or "noise:10%".
Status ParseForecastMode(const std::string& text, SimOptions& options);

struct SimJob {
  Timestamp arrival;
  Timestamp start;          // chosen by the policy
  Timestamp oracle_start;
  // Mean true intensity over the run had it started at arrival, as run by
  // the policy, and the oracle's. Interruptible: the emissions of all its
  // segments (overheads included) over the duration, at constant power.
  double immediate_g = 0;
  double policy_g = 0;
  double oracle_g = 0;
  int64_t segments = 1;     // interruptible: how many it ran in
  Timestamp end;            // when it finished
};

struct SimSummary {
  int64_t jobs = 0;
  double immediate_mean_g = 0, policy_mean_g = 0, oracle_mean_g = 0;
  double saving_pct = 0;         // (immediate - policy) / immediate, over all jobs
  double oracle_saving_pct = 0;  // (immediate - oracle) / immediate
  double share_of_oracle = 0;    // saving / oracle saving
  double mean_delay_h = 0;
  double max_delay_h = 0;
  double mean_segments = 1;  // interruptible: segments per job
};

struct SimResult {
  std::vector<SimJob> jobs;
  SimSummary summary;
};

// `trace` must be sorted. Jobs arrive evenly over the trace after its first
// 35 days (history for the `own` forecaster; the same jobs for every policy),
// each re-planned at every trace step.
// Emission figures assume constant power: the mean intensity over the run.
// A perfect or noisy forecast covers each job's whole window (its deadline).
StatusOr<SimResult> Simulate(const IntensitySeries& trace, const SimOptions& options);

// Placement over several zones (issue 17): each job may run in any of them
// and is placed by the daemon's own PlaceJob (common/policy.h), re-planned at
// every trace step; the first zone is the job's first-listed site.
struct SimZone {
  std::string zone;
  IntensitySeries trace;  // sorted, the same step in every zone
};
struct SimSitesSummary {
  int64_t jobs = 0;
  double immediate_mean_g = 0;   // every job at once in the first zone
  double policy_mean_g = 0;      // placed in (zone, start)
  double oracle_mean_g = 0;      // the best (zone, start) in each job's window, knowing the future
  double time_only_mean_g = 0;   // the same policy in the first zone only
  double best_fixed_mean_g = 0;  // every job at once in the zone cleanest over the whole trace
  std::string best_fixed_zone;
  double saving_pct = 0, oracle_saving_pct = 0, time_only_saving_pct = 0, best_fixed_zone_saving_pct = 0;
  double share_of_oracle = 0;  // saving / oracle saving
  std::vector<std::pair<std::string, double>> zone_share;  // share of the jobs placed in each zone
  double mean_delay_h = 0, max_delay_h = 0;
};
// With slots_per_site, the jobs compete for slots: each job, in arrival
// order, sees the slots taken by the jobs placed before it.
StatusOr<SimSitesSummary> SimulateSites(const std::vector<SimZone>& zones, const SimOptions& options);

}  // namespace carbon

// Release policies: pure functions of a job, its submission time, "now" and
// what is known about the grid, that say whether a job may start and, if not,
// why and until when. The daemon and the simulator run the very same code.
//
//   immediate  release at once (after carbon.not_before).
//   threshold  release when the current intensity is at or under
//              carbon.threshold_gco2_per_kwh, or when max_wait has passed.
//   forecast   release at the start that minimises the mean forecast
//              intensity over the job's expected duration (each forecast
//              point the mean of its interval, see MeanIntervals), within
//              [max(now, not_before), deadline - duration]; the deadline
//              defaults to submission + max_wait + duration. Re-planned on
//              every tick with the newest forecast.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/clock.h"
#include "common/intensity.h"
#include "common/job_spec.h"

namespace carbon {

struct ReleaseDecision {
  ReleaseDecision() = default;
  ReleaseDecision(bool r, std::optional<Timestamp> start, std::string why,
                  std::optional<Timestamp> end = std::nullopt)
      : release(r), planned_start(start), reason(std::move(why)), planned_end(end) {}
  bool release = false;
  std::optional<Timestamp> planned_start;  // when the policy expects to release it
  std::string reason;                      // for people: why (not) now
  std::optional<Timestamp> planned_end;    // end of the planned window (forecast policy)
  // The forecast policy: the mean forecast intensity over the window it
  // starts now or plans (what placement over several sites compares).
  std::optional<double> mean_gco2_per_kwh;
  // An interruptible job (carbon.interruptible) released, or left running:
  // when its segment ends and it pauses (empty: it runs to the end).
  std::optional<Timestamp> segment_end;
  // Placement over several sites (PlaceJob): it would run now, but its site
  // has no free slot; a free slot, not a time, changes this decision.
  bool needs_slot = false;
};

// What the scheduler knows about the job's zone.
struct GridView {
  std::string zone;
  std::optional<double> current_gco2_per_kwh;
  std::string current_source;
  IntensitySeries forecast;  // sorted; empty when there is none
  std::string forecast_source;
  std::string why_no_data;   // when current or forecast is missing
};

struct PolicyDefaults {
  Duration max_wait = std::chrono::hours(24);
  Duration expected_duration = std::chrono::hours(1);  // when neither the spec nor history says
  double duration_margin = 1.2;  // applied to learned and default durations
  // Interruptible jobs: what a pause costs (checkpoint + restart) when the
  // job's own history does not say (scheduler.default_resume_overhead).
  Duration resume_overhead = std::chrono::minutes(2);
};

// Where an interruptible job stands: the work done in its segments so far
// (run time less each resume's overhead) and whether it runs now.
struct SegmentProgress {
  Duration done{};
  bool started = false;        // it ran before (it resumes from a checkpoint)
  bool running = false;        // it runs now, for `running_for` in this segment
  Duration running_for{};
};

struct PolicyInput {
  const JobSpec& spec;
  Timestamp submitted;
  Timestamp now;
  const GridView* grid = nullptr;
  // The median run time of finished jobs like this one (same model, data,
  // epochs and device), with how many there were.
  std::optional<Duration> learned_duration = std::nullopt;
  int64_t learned_from = 0;
  PolicyDefaults defaults = {};
  // The start planned at an earlier tick. Once it has come, the forecast
  // policy keeps it unless the newest forecast's best later window is more
  // than kKeepPlanMargin cleaner (re-planning on every new forecast would
  // otherwise chase forecast noise towards the deadline).
  std::optional<Timestamp> planned_start = std::nullopt;
  // Interruptible jobs: progress, and the pause cost measured on this job
  // (else defaults.resume_overhead).
  SegmentProgress progress = {};
  std::optional<Duration> resume_overhead = std::nullopt;
};
constexpr double kKeepPlanMargin = 0.05;

// The duration a policy plans with, and where it came from.
struct ExpectedDuration {
  Duration duration;
  std::string source;  // "job spec", "learned from 3 finished jobs", "default"
};
ExpectedDuration ExpectedDurationOf(const PolicyInput& in);

// The latest time the job may start: deadline - duration, where the deadline
// defaults to submission + max_wait + duration.
Timestamp LatestStart(const PolicyInput& in, Duration duration);

class ReleasePolicy {
 public:
  virtual ~ReleasePolicy() = default;
  virtual ReleaseDecision Decide(const PolicyInput& in) const = 0;
};

class ImmediatePolicy final : public ReleasePolicy {
 public:
  ReleaseDecision Decide(const PolicyInput& in) const override;
};

class ThresholdPolicy final : public ReleasePolicy {
 public:
  ReleaseDecision Decide(const PolicyInput& in) const override;
};

// With carbon.interruptible, the forecast policy plans segments
// (common/segments.h) over [now, deadline): a waiting job is released when
// its first segment starts now (segment_end: when it pauses); a running one
// (progress.running), asked at its segment's end, goes on to its next
// segment's end or pauses (release false, planned_start: when it resumes).
// When the work left needs all the time left, it runs to the end.
class ForecastPolicy final : public ReleasePolicy {
 public:
  ReleaseDecision Decide(const PolicyInput& in) const override;
};

// Maps carbon.policy names to policies. Not thread-safe for Register after use.
class PolicyRegistry {
 public:
  PolicyRegistry();  // registers immediate, threshold and forecast
  void Register(const std::string& name, std::unique_ptr<ReleasePolicy> policy);
  // Decides with the job's policy; an unregistered name falls back to
  // immediate and the reason says so.
  ReleaseDecision Decide(const PolicyInput& in) const;

 private:
  std::map<std::string, std::unique_ptr<ReleasePolicy>> policies_;
};

// Placement over several sites (carbon.sites with more than one name): each
// site with its grid (its zone's) and whether it has a free slot now.
struct SiteOption {
  std::string name;
  const GridView* grid = nullptr;
  bool slot_free = true;
};
struct Placement {
  ReleaseDecision decision;
  size_t site = 0;  // index into the options
};
constexpr double kDefaultSiteSwitchMargin = 0.05;
// The job's policy decided at every site, and the site chosen:
//   forecast   the (site, start) with the lowest mean forecast intensity over
//              the expected duration, within the same window at every site;
//   threshold  the first site (in the job's order) at or under the threshold;
//              at max_wait/deadline, the first site with a free slot;
//   immediate  the first site with a free slot.
// Sites within `switch_margin` of the best are near-ties: the current site
// (`current`, the earlier plan) is kept, else the first-listed one wins. A
// full site is skipped for now: the job goes to a site with a free slot
// within the margin, else it waits for the slot, and the reason says how
// much dirtier the free sites are.
Placement PlaceJob(const PolicyRegistry& policies, const PolicyInput& in, const std::vector<SiteOption>& sites,
                   std::optional<size_t> current, double switch_margin = kDefaultSiteSwitchMargin);

// "02:30" (UTC) for reasons; with the date when it is not the day of `now`.
std::string ShortTime(Timestamp t, Timestamp now);

}  // namespace carbon

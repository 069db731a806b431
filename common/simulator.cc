#include "common/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <unordered_map>

#include "common/forecaster.h"
#include "common/mock_intensity.h"
#include "common/policy.h"
#include "common/segments.h"
#include "common/time_util.h"

namespace carbon {

Status ParseForecastMode(const std::string& text, SimOptions& o) {
  if (text == "perfect" || text == "own") {
    o.forecast = text;
    return Status();
  }
  if (text.rfind("noise:", 0) == 0) {
    std::string v = text.substr(6);
    bool pct = !v.empty() && v.back() == '%';
    if (pct) v.pop_back();
    char* end = nullptr;
    double sigma = std::strtod(v.c_str(), &end);
    if (!v.empty() && *end == '\0' && sigma >= 0 && sigma <= (pct ? 100 : 1)) {
      o.forecast = "noise";
      o.noise_sigma = pct ? sigma / 100 : sigma;
      return Status();
    }
  }
  return InvalidArgument("--forecast '" + text + "' is not accepted; expected perfect, own, or noise:SIGMA "
                         "(relative, e.g. noise:0.1 or noise:10%)",
                         "forecast");
}

namespace {

// The job every simulated arrival is: the options' policy and durations.
JobSpec SimSpec(const SimOptions& o) {
  JobSpec spec;
  spec.name = "sim";
  spec.carbon.policy = o.policy;
  spec.carbon.threshold_gco2_per_kwh = o.threshold;
  spec.carbon.max_wait = o.max_wait;
  spec.carbon.expected_duration = o.duration;
  spec.carbon.interruptible = o.interruptible;
  spec.carbon.min_segment = o.min_segment;
  return spec;
}

// Job i's arrival: evenly spread over `span_s` from `first`, with a seeded
// offset inside each slot, on a whole minute.
Timestamp Arrival(Timestamp first, double span_s, int64_t i, const SimOptions& o) {
  const double u =
      (static_cast<double>(i) + static_cast<double>(HashMix(o.seed * 7919 + static_cast<uint64_t>(i)) % 1000) / 1000.0) /
      static_cast<double>(o.jobs);
  return std::chrono::floor<std::chrono::minutes>(
      first + std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double>(u * span_s)));
}

// The forecast a policy sees at `now`. The own forecaster's is issued at the
// start of the trace step holding `now` (as the daemon refreshes its
// forecasts each step) and shared by every job planned in that step.
class Forecasts {
 public:
  Forecasts(const IntensitySeries& trace, const SimOptions& o) : trace_(trace), o_(o) {
    step_ = trace.size() > 1 ? std::chrono::duration_cast<Duration>(trace[1].time - trace[0].time)
                             : Duration(std::chrono::hours(1));
    // A perfect (or noisy) forecast knows the job's whole window.
    horizon_ = std::max<Duration>(o.horizon, o.max_wait + o.duration + step_);
  }
  const IntensitySeries& At(Timestamp now) {
    if (o_.forecast == "own") {
      const Timestamp issued = trace_.front().time + (now - trace_.front().time) / step_ * step_;
      auto [it, fresh] = cache_.try_emplace(issued.time_since_epoch().count());
      if (fresh) {
        IntensitySeries history = SliceSorted(trace_, issued - std::chrono::hours(24 * 35), issued);
        ForecasterOptions fo;
        fo.step = step_;
        it->second = ForecastFromHistory(history, issued, o_.horizon, fo);
      }
      return it->second;
    }
    scratch_ = SliceSorted(trace_, now, now + horizon_);
    if (o_.forecast == "noise") {
      const int64_t issued = std::chrono::duration_cast<std::chrono::minutes>(now.time_since_epoch()).count();
      for (IntensityPoint& p : scratch_) {
        uint64_t key = HashMix(o_.seed) ^ HashMix(static_cast<uint64_t>(issued)) ^
                       static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(p.time.time_since_epoch()).count());
        p.gco2_per_kwh = std::max(0.0, p.gco2_per_kwh * (1 + o_.noise_sigma * SeededGaussian(key)));
      }
    }
    return scratch_;
  }

 private:
  const IntensitySeries& trace_;
  const SimOptions& o_;
  Duration step_, horizon_;
  std::unordered_map<int64_t, IntensitySeries> cache_;
  IntensitySeries scratch_;
};

// The grid a policy sees at `now`.
GridView SimGrid(const IntensitySeries& trace, Forecasts& forecasts, const SimOptions& o, Timestamp now) {
  GridView g;
  g.zone = "sim";
  if (auto p = PointAt(trace, now)) g.current_gco2_per_kwh = p->gco2_per_kwh;
  g.current_source = "trace";
  if (o.policy == "forecast") {
    g.forecast = forecasts.At(now);
    g.forecast_source = o.forecast;
  }
  return g;
}

// The next re-plan after `now`: the next trace step, or the planned time if
// sooner; with `go_to_plan` (a plan that cannot change before it comes: a
// perfect forecast), the planned time.
Timestamp NextReplan(Timestamp now, Duration step, std::optional<Timestamp> planned, bool go_to_plan = false) {
  if (go_to_plan && planned && *planned > now) return *planned;
  Timestamp next = std::chrono::floor<std::chrono::hours>(now) + step;
  while (next <= now) next += step;
  if (planned && *planned > now) next = std::min(next, *planned);
  return next;
}

// One interruptible job, as the daemon runs it: while it waits, re-planned
// at every step; while it runs, asked at each segment's end whether it goes
// on or pauses. Each resume costs the overhead (run time at the grid's
// intensity then, no work done).
void RunInterruptible(const IntensitySeries& trace, Forecasts& forecasts, const SimOptions& o, const JobSpec& spec,
                      const PolicyRegistry& registry, Duration step, SimJob& job) {
  const Timestamp deadline = job.arrival + o.max_wait + o.duration;
  SegmentProgress progress;
  std::optional<Timestamp> planned;
  std::vector<Segment> ran;
  Timestamp now = job.arrival;
  bool first = true;
  const bool go_to_plan = o.forecast == "perfect";  // a perfect forecast's plan cannot change while the job waits
  auto decide = [&](Timestamp at) {
    GridView g = SimGrid(trace, forecasts, o, at);
    PolicyInput in{spec, job.arrival, at};
    in.grid = &g;
    in.planned_start = planned;
    in.progress = progress;
    in.defaults.resume_overhead = o.resume_overhead;
    return registry.Decide(in);
  };
  while (true) {
    ReleaseDecision d = decide(now);
    if (!d.release && now < deadline) {
      planned = d.planned_start;
      now = std::min(NextReplan(now, step, planned, go_to_plan), deadline);
      continue;
    }
    // Runs from now: a resume first pays its overhead.
    if (first) job.start = now, first = false;
    const Duration overhead = progress.started ? o.resume_overhead : Duration::zero();
    progress.started = progress.running = true;
    const Timestamp began = now;
    std::optional<Timestamp> seg_end = d.segment_end;
    Timestamp work_from = now + overhead;
    while (true) {
      const Timestamp finish = work_from + (o.duration - progress.done);
      if (!seg_end || *seg_end >= finish) {
        ran.push_back({began, finish});
        progress.done = o.duration;
        job.end = finish;
        job.segments = static_cast<int64_t>(ran.size());
        job.policy_g = SegmentsCost(trace, ran) / (std::chrono::duration<double>(o.duration).count() / 3600.0);
        return;
      }
      // The segment's end: on, or pause.
      if (*seg_end > work_from) progress.done += std::chrono::duration_cast<Duration>(*seg_end - work_from);
      work_from = std::max(work_from, *seg_end);
      now = *seg_end;
      progress.running_for = std::chrono::duration_cast<Duration>(now - began);
      ReleaseDecision on = decide(now);
      if (on.release) {
        seg_end = on.segment_end;
        continue;
      }
      ran.push_back({began, now});
      progress.running = false;
      progress.running_for = Duration::zero();
      planned = on.planned_start;
      now = std::min(NextReplan(now, step, planned, go_to_plan), deadline);
      break;
    }
  }
}

}  // namespace

StatusOr<SimResult> Simulate(const IntensitySeries& trace, const SimOptions& o) {
  if (trace.size() < 2) return InvalidArgument("the trace holds fewer than two points");
  if (o.jobs < 1) return InvalidArgument("jobs must be at least 1", "jobs");
  if (o.policy != "immediate" && o.policy != "threshold" && o.policy != "forecast")
    return InvalidArgument("--policy '" + o.policy + "' is not accepted; expected immediate, threshold or forecast",
                           "policy");
  if (o.interruptible && o.policy != "forecast")
    return InvalidArgument("--interruptible needs --policy forecast (segments are planned over the forecast)",
                           "interruptible");
  const Duration step = std::chrono::duration_cast<Duration>(trace[1].time - trace[0].time);
  // Arrivals start after 35 days whatever the policy, so every policy and
  // forecast mode sees the same jobs (the own forecaster needs the history).
  Timestamp first = trace.front().time + std::chrono::hours(24 * 35);
  Timestamp last = trace.back().end() - o.max_wait - o.duration;
  if (last <= first)
    return InvalidArgument("the trace (" + FormatTime(trace.front().time) + " .. " + FormatTime(trace.back().end()) +
                           ") is too short: jobs arrive after 35 days of history and need max_wait + duration");
  const JobSpec spec = SimSpec(o);
  PolicyRegistry registry;
  SimResult result;
  result.jobs.reserve(static_cast<size_t>(o.jobs));
  const double span = std::chrono::duration<double>(last - first).count();
  Forecasts forecasts(trace, o);
  for (int64_t i = 0; i < o.jobs; ++i) {
    const Timestamp arrival = Arrival(first, span, i, o);
    SimJob job;
    job.arrival = arrival;
    Timestamp latest = arrival + o.max_wait;
    if (o.interruptible) {
      RunInterruptible(trace, forecasts, o, spec, registry, step, job);
      const double hours = std::chrono::duration<double>(o.duration).count() / 3600.0;
      job.immediate_g = MeanIntervals(trace, arrival, arrival + o.duration);
      SegmentRequest rq;
      rq.now = arrival;
      rq.deadline = latest + o.duration;
      rq.remaining = o.duration;
      rq.min_segment = o.min_segment;
      rq.overhead = o.resume_overhead;
      SegmentPlan oracle = PlanSegments(SliceSorted(trace, arrival, rq.deadline), rq);
      job.oracle_start = oracle.feasible() ? oracle.segments.front().start : arrival;
      job.oracle_g = oracle.feasible() ? SegmentsCost(trace, oracle.segments) / hours : job.immediate_g;
      result.jobs.push_back(job);
      continue;
    }
    // Re-plan at every trace step (a new forecast) or at the planned start.
    Timestamp now = arrival;
    std::optional<Timestamp> planned;  // as the daemon stores it between ticks
    while (true) {
      GridView g = SimGrid(trace, forecasts, o, now);
      PolicyInput in{spec, arrival, now};
      in.grid = &g;
      in.planned_start = planned;
      ReleaseDecision d = registry.Decide(in);
      if (d.release || now >= latest) break;
      planned = d.planned_start;
      now = std::min(NextReplan(now, step, d.planned_start), latest);
    }
    job.start = now;
    job.end = now + o.duration;
    job.immediate_g = MeanIntervals(trace, arrival, arrival + o.duration);
    job.policy_g = MeanIntervals(trace, job.start, job.start + o.duration);
    auto oracle = BestStart(SliceSorted(trace, arrival, latest + o.duration), arrival, latest, o.duration);
    job.oracle_start = oracle ? oracle->start : arrival;
    job.oracle_g = oracle ? oracle->mean_gco2_per_kwh : job.immediate_g;
    result.jobs.push_back(job);
  }
  SimSummary& s = result.summary;
  s.jobs = o.jobs;
  double delay = 0, segments = 0;
  for (const SimJob& j : result.jobs) {
    segments += static_cast<double>(j.segments);
    s.immediate_mean_g += j.immediate_g;
    s.policy_mean_g += j.policy_g;
    s.oracle_mean_g += j.oracle_g;
    double h = std::chrono::duration<double>(j.start - j.arrival).count() / 3600.0;
    delay += h;
    s.max_delay_h = std::max(s.max_delay_h, h);
  }
  const double n = static_cast<double>(o.jobs);
  s.immediate_mean_g /= n;
  s.policy_mean_g /= n;
  s.oracle_mean_g /= n;
  s.mean_delay_h = delay / n;
  s.mean_segments = segments / n;
  if (s.immediate_mean_g > 0) {
    s.saving_pct = 100 * (s.immediate_mean_g - s.policy_mean_g) / s.immediate_mean_g;
    s.oracle_saving_pct = 100 * (s.immediate_mean_g - s.oracle_mean_g) / s.immediate_mean_g;
  }
  double oracle_saving = s.immediate_mean_g - s.oracle_mean_g;
  s.share_of_oracle = oracle_saving > 0 ? (s.immediate_mean_g - s.policy_mean_g) / oracle_saving : 1.0;
  return result;
}

namespace {

// Starts of the jobs placed in one zone: how many run at a time (all jobs
// last the same duration).
class Occupancy {
 public:
  Occupancy(int64_t slots, Duration duration) : slots_(slots), duration_(duration) {}
  bool Free(Timestamp t) const {
    if (slots_ <= 0) return true;
    auto lo = starts_.upper_bound(t - duration_), hi = starts_.upper_bound(t);
    return std::distance(lo, hi) < slots_;
  }
  // The first time from `t` on when a slot is free.
  Timestamp NextFree(Timestamp t) const {
    while (!Free(t)) {
      auto lo = starts_.upper_bound(t - duration_);
      t = *lo + duration_;  // the earliest running job ends
    }
    return t;
  }
  void Take(Timestamp start) { starts_.insert(start); }

 private:
  int64_t slots_;
  Duration duration_;
  std::multiset<Timestamp> starts_;
};

// One job placed over `zones` (indices into all) from its arrival: its start
// and zone, re-planned at every step, as the daemon does at every tick.
struct Placed {
  Timestamp start;
  size_t zone = 0;
};
Placed PlaceOne(const std::vector<SimZone>& all, std::vector<Forecasts>& forecasts, const std::vector<size_t>& zones,
                std::vector<Occupancy>& occ, const JobSpec& spec, const PolicyRegistry& registry, Timestamp arrival,
                const SimOptions& o, Duration step) {
  const Timestamp latest = arrival + o.max_wait;
  Timestamp now = arrival;
  std::optional<Timestamp> planned;
  std::optional<size_t> current;
  std::vector<GridView> grids(zones.size());
  std::vector<SiteOption> options(zones.size());
  while (true) {
    for (size_t k = 0; k < zones.size(); ++k) {
      const SimZone& z = all[zones[k]];
      GridView& g = grids[k];
      g = GridView();
      g.zone = z.zone;
      if (auto p = PointAt(z.trace, now)) g.current_gco2_per_kwh = p->gco2_per_kwh;
      g.current_source = "trace";
      if (o.policy == "forecast") {
        g.forecast = forecasts[zones[k]].At(now);
        g.forecast_source = o.forecast;
      }
      options[k] = SiteOption{z.zone, &g, occ[zones[k]].Free(now)};
    }
    PolicyInput in{spec, arrival, now};
    in.planned_start = planned;
    Placement p = PlaceJob(registry, in, options, current, o.site_switch_margin);
    current = p.site;
    if (p.decision.release && options[p.site].slot_free) return {now, zones[p.site]};
    if (now >= latest) {
      // Out of time: the cleanest zone now with a free slot, else the first slot to free up.
      std::optional<size_t> best;
      for (size_t k = 0; k < zones.size(); ++k)
        if (options[k].slot_free &&
            (!best || grids[k].current_gco2_per_kwh.value_or(1e18) < grids[*best].current_gco2_per_kwh.value_or(1e18)))
          best = k;
      if (best) return {now, zones[*best]};
      size_t first = 0;
      Timestamp at = Timestamp::max();
      for (size_t k = 0; k < zones.size(); ++k)
        if (Timestamp t = occ[zones[k]].NextFree(now); t < at) at = t, first = k;
      return {at, zones[first]};
    }
    planned = p.decision.planned_start;
    // A perfect forecast and no slots to wait for: the plan cannot change, go to it.
    now = std::min(NextReplan(now, step, planned, o.forecast == "perfect" && o.slots_per_site <= 0), latest);
  }
}

}  // namespace

StatusOr<SimSitesSummary> SimulateSites(const std::vector<SimZone>& zones, const SimOptions& o) {
  if (zones.empty()) return InvalidArgument("no zone to simulate");
  for (const SimZone& z : zones)
    if (z.trace.size() < 2) return InvalidArgument("the trace of zone " + z.zone + " holds fewer than two points");
  if (o.jobs < 1) return InvalidArgument("jobs must be at least 1", "jobs");
  if (o.policy != "immediate" && o.policy != "threshold" && o.policy != "forecast")
    return InvalidArgument("--policy '" + o.policy + "' is not accepted; expected immediate, threshold or forecast",
                           "policy");
  if (o.interruptible)
    return InvalidArgument("--interruptible takes one trace; placement over several zones plans one window",
                           "interruptible");
  const Duration step = std::chrono::duration_cast<Duration>(zones[0].trace[1].time - zones[0].trace[0].time);
  Timestamp begin = zones[0].trace.front().time, end = zones[0].trace.back().end();
  for (const SimZone& z : zones) {
    begin = std::max(begin, z.trace.front().time);
    end = std::min(end, z.trace.back().end());
  }
  const Timestamp first = begin + std::chrono::hours(24 * 35);
  const Timestamp last = end - o.max_wait - o.duration;
  if (last <= first)
    return InvalidArgument("the traces overlap over " + FormatTime(begin) + " .. " + FormatTime(end) +
                           ", too short: jobs arrive after 35 days of history and need max_wait + duration");
  const JobSpec spec = SimSpec(o);
  PolicyRegistry registry;
  std::vector<size_t> every(zones.size()), only_first = {0};
  for (size_t k = 0; k < zones.size(); ++k) every[k] = k;
  std::vector<Occupancy> placed_occ(zones.size(), Occupancy(o.slots_per_site, o.duration));
  std::vector<Occupancy> first_occ(zones.size(), Occupancy(o.slots_per_site, o.duration));
  // The zone cleanest over the whole overlap.
  size_t fixed = 0;
  double fixed_mean = std::numeric_limits<double>::max();
  for (size_t k = 0; k < zones.size(); ++k)
    if (double m = MeanIntervals(zones[k].trace, begin, end); m < fixed_mean) fixed_mean = m, fixed = k;
  std::vector<Forecasts> forecasts;
  for (const SimZone& z : zones) forecasts.emplace_back(z.trace, o);
  SimSitesSummary s;
  s.jobs = o.jobs;
  s.best_fixed_zone = zones[fixed].zone;
  std::vector<int64_t> per_zone(zones.size(), 0);
  double delay = 0;
  const double span = std::chrono::duration<double>(last - first).count();
  for (int64_t i = 0; i < o.jobs; ++i) {
    const Timestamp arrival = Arrival(first, span, i, o);
    Placed p = PlaceOne(zones, forecasts, every, placed_occ, spec, registry, arrival, o, step);
    placed_occ[p.zone].Take(p.start);
    Placed t = PlaceOne(zones, forecasts, only_first, first_occ, spec, registry, arrival, o, step);
    first_occ[0].Take(t.start);
    const Timestamp latest = arrival + o.max_wait;
    s.immediate_mean_g += MeanIntervals(zones[0].trace, arrival, arrival + o.duration);
    s.policy_mean_g += MeanIntervals(zones[p.zone].trace, p.start, p.start + o.duration);
    s.time_only_mean_g += MeanIntervals(zones[0].trace, t.start, t.start + o.duration);
    s.best_fixed_mean_g += MeanIntervals(zones[fixed].trace, arrival, arrival + o.duration);
    double oracle = std::numeric_limits<double>::max();
    for (const SimZone& z : zones)
      if (auto b = BestStart(SliceSorted(z.trace, arrival, latest + o.duration), arrival, latest, o.duration))
        oracle = std::min(oracle, b->mean_gco2_per_kwh);
    s.oracle_mean_g += oracle == std::numeric_limits<double>::max() ? 0 : oracle;
    ++per_zone[p.zone];
    const double h = std::chrono::duration<double>(p.start - arrival).count() / 3600.0;
    delay += h;
    s.max_delay_h = std::max(s.max_delay_h, h);
  }
  const double n = static_cast<double>(o.jobs);
  for (double* v : {&s.immediate_mean_g, &s.policy_mean_g, &s.oracle_mean_g, &s.time_only_mean_g, &s.best_fixed_mean_g})
    *v /= n;
  s.mean_delay_h = delay / n;
  auto saving = [&](double g) { return s.immediate_mean_g > 0 ? 100 * (s.immediate_mean_g - g) / s.immediate_mean_g : 0; };
  s.saving_pct = saving(s.policy_mean_g);
  s.oracle_saving_pct = saving(s.oracle_mean_g);
  s.time_only_saving_pct = saving(s.time_only_mean_g);
  s.best_fixed_zone_saving_pct = saving(s.best_fixed_mean_g);
  const double oracle_saving = s.immediate_mean_g - s.oracle_mean_g;
  s.share_of_oracle = oracle_saving > 0 ? (s.immediate_mean_g - s.policy_mean_g) / oracle_saving : 1.0;
  for (size_t k = 0; k < zones.size(); ++k) s.zone_share.emplace_back(zones[k].zone, static_cast<double>(per_zone[k]) / n);
  return s;
}

}  // namespace carbon

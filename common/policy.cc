#include "common/policy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/segments.h"
#include "common/time_util.h"

namespace carbon {
namespace {

std::string G(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", v);
  return buf;
}

// Not released before not_before: the decision to wait for it, if it applies.
std::optional<ReleaseDecision> NotBefore(const PolicyInput& in) {
  const auto& nb = in.spec.carbon.not_before;
  if (nb && in.now < *nb) return ReleaseDecision{false, *nb, "waiting for not_before " + FormatTime(*nb)};
  return std::nullopt;
}

std::string Hours(Duration d) {
  char buf[32];
  const double h = std::chrono::duration<double>(d).count() / 3600.0;
  std::snprintf(buf, sizeof buf, h >= 10 || h == std::floor(h) ? "%.0f h" : "%.1f h", h);
  return buf;
}

// The forecast policy for an interruptible job: segments over [now, deadline).
ReleaseDecision DecideInterruptible(const PolicyInput& in, const ExpectedDuration& d) {
  const SegmentProgress& p = in.progress;
  const Timestamp deadline = LatestStart(in, d.duration) + d.duration;
  const Duration remaining = d.duration - p.done;
  const std::string done_text = Hours(p.done) + " of " + Hours(d.duration) + " done";
  const std::string tail = "expected duration " + FormatDuration(d.duration) + " (" + d.source + ")";
  auto run_to_end = [&](const std::string& why) {
    ReleaseDecision out{true, in.now, (p.running ? "running to the end: " : "released to run to the end: ") + why};
    return out;
  };
  if (remaining <= Duration::zero())
    return run_to_end("it has run its expected duration (" + done_text + "); " + tail);
  const GridView* g = in.grid;
  if (!g || g->forecast.empty())
    return run_to_end("no forecast for zone " + (g ? g->zone : std::string("?")) +
                      (g && !g->why_no_data.empty() ? " (" + g->why_no_data + ")" : "") + "; not pausing blind");
  IntensitySeries series = g->forecast;
  const bool extended = ExtendDaily(series, deadline);
  SegmentRequest rq;
  rq.now = in.now;
  rq.deadline = deadline;
  rq.remaining = remaining;
  rq.min_segment = in.spec.carbon.min_segment;
  rq.overhead = in.resume_overhead.value_or(in.defaults.resume_overhead);
  rq.never_started = !p.started && !p.running;
  rq.running = p.running;
  rq.running_for = p.running_for;
  SegmentPlan plan = PlanSegments(series, rq);
  // A planned start that has come is kept unless waiting on is more than
  // kKeepPlanMargin cleaner (as for one window).
  if (!p.running && plan.feasible() && !plan.StartsAt(in.now) && in.planned_start && in.now >= *in.planned_start) {
    SegmentRequest now_rq = rq;
    now_rq.start_now = true;
    SegmentPlan now_plan = PlanSegments(series, now_rq);
    if (now_plan.feasible() && now_plan.cost <= plan.cost * (1 + kKeepPlanMargin)) plan = std::move(now_plan);
  }
  if (!plan.feasible())
    return run_to_end("the deadline " + ShortTime(deadline, in.now) + " UTC leaves no time to pause (" +
                      done_text + ", " + FormatDuration(std::chrono::duration_cast<Duration>(remaining)) +
                      " left plus " + FormatDuration(rq.overhead) + " per resume); " + tail);
  const std::string source = "forecast from " + g->forecast_source +
                             (extended ? ", extended past its horizon by the daily cycle" : "");
  const size_t n = plan.segments.size();
  std::string plan_text = std::to_string(n) + " segment" + (n == 1 ? "" : "s") + " planned, mean " +
                          G(plan.mean_gco2_per_kwh) + " g/kWh";
  ReleaseDecision out;
  const Segment& first = plan.segments.front();
  if (plan.StartsAt(in.now)) {
    const bool last = n == 1;
    out = {true, in.now,
           std::string(p.running ? "running on" : p.started ? "resumed" : "released") +
               (last ? " to the end (" : " until " + ShortTime(first.end, in.now) + " UTC (") + plan_text + "; " +
               done_text + "); " + tail + "; " + source};
    out.mean_gco2_per_kwh = plan.mean_gco2_per_kwh;
    if (!last) out.segment_end = first.end;
    return out;
  }
  const double then = MeanIntervals(series, first.start, first.end);
  std::string now_text = g->current_gco2_per_kwh ? G(*g->current_gco2_per_kwh) + " g/kWh now"
                                                 : G(MeanIntervals(series, in.now, in.now + std::chrono::hours(1))) +
                                                       " g/kWh forecast now";
  out = {false, first.start,
         std::string(p.started || p.running ? "paused until " : "waiting for its first segment at ") +
             ShortTime(first.start, in.now) + " UTC: " + now_text + ", " + G(then) + " then; " + done_text + "; " +
             plan_text + "; " + tail + "; " + source,
         first.end};
  out.mean_gco2_per_kwh = plan.mean_gco2_per_kwh;
  return out;
}

}  // namespace

std::string ShortTime(Timestamp t, Timestamp now) {
  std::string a = FormatTime(t), b = FormatTime(now);
  if (a.substr(0, 10) == b.substr(0, 10)) return a.substr(11, 5);
  return a.substr(0, 10) + " " + a.substr(11, 5);
}

ExpectedDuration ExpectedDurationOf(const PolicyInput& in) {
  if (in.spec.carbon.expected_duration) return {*in.spec.carbon.expected_duration, "job spec"};
  auto margin = [&](Duration d) {
    return Duration(static_cast<int64_t>(std::llround(static_cast<double>(d.count()) * in.defaults.duration_margin)));
  };
  if (in.learned_duration)
    return {margin(*in.learned_duration),
            "learned from " + std::to_string(in.learned_from) + " finished job" + (in.learned_from == 1 ? "" : "s") +
                ", +" + G((in.defaults.duration_margin - 1) * 100) + "%"};
  return {margin(in.defaults.expected_duration),
          "default, +" + G((in.defaults.duration_margin - 1) * 100) + "%"};
}

Timestamp LatestStart(const PolicyInput& in, Duration duration) {
  Timestamp deadline = in.spec.carbon.deadline
                           ? *in.spec.carbon.deadline
                           : in.submitted + in.spec.carbon.max_wait.value_or(in.defaults.max_wait) + duration;
  return deadline - duration;
}

ReleaseDecision ImmediatePolicy::Decide(const PolicyInput& in) const {
  if (auto wait = NotBefore(in)) return *wait;
  return {true, in.now, "released: policy immediate"};
}

ReleaseDecision ThresholdPolicy::Decide(const PolicyInput& in) const {
  if (auto wait = NotBefore(in)) return *wait;
  const double threshold = in.spec.carbon.threshold_gco2_per_kwh.value_or(0);
  const Duration max_wait = in.spec.carbon.max_wait.value_or(in.defaults.max_wait);
  Timestamp give_up = in.submitted + max_wait;
  if (in.spec.carbon.deadline) {
    ExpectedDuration d = ExpectedDurationOf(in);
    give_up = std::min(give_up, *in.spec.carbon.deadline - d.duration);
  }
  const GridView* g = in.grid;
  if (g && g->current_gco2_per_kwh && *g->current_gco2_per_kwh <= threshold)
    return {true, in.now,
            "released: intensity " + G(*g->current_gco2_per_kwh) + " g/kWh (" + g->current_source +
                ") is at or under the threshold " + G(threshold)};
  if (in.now >= give_up)
    return {true, in.now,
            "released: waited " + FormatDuration(std::chrono::duration_cast<Duration>(in.now - in.submitted)) +
                " (max_wait/deadline reached) with intensity " +
                (g && g->current_gco2_per_kwh ? G(*g->current_gco2_per_kwh) + " g/kWh" : "unknown") +
                " over the threshold " + G(threshold)};
  std::string now_text = g && g->current_gco2_per_kwh
                             ? G(*g->current_gco2_per_kwh) + " g/kWh now (" + g->current_source + ")"
                             : "no current intensity" + (g && !g->why_no_data.empty() ? " (" + g->why_no_data + ")" : "");
  return {false, give_up,
          "waiting for intensity at or under " + G(threshold) + " g/kWh: " + now_text + "; starts by " +
              ShortTime(give_up, in.now) + " UTC at the latest"};
}

ReleaseDecision ForecastPolicy::Decide(const PolicyInput& in) const {
  if (auto wait = NotBefore(in)) return *wait;
  ExpectedDuration d = ExpectedDurationOf(in);
  if (in.spec.carbon.interruptible) return DecideInterruptible(in, d);
  Timestamp earliest = in.now;
  Timestamp latest = LatestStart(in, d.duration);
  if (latest <= in.now)
    return {true, in.now,
            "released: the deadline leaves no later start (expected duration " + FormatDuration(d.duration) +
                ", " + d.source + ")"};
  const GridView* g = in.grid;
  if (!g || g->forecast.empty())
    return {true, in.now,
            "released: no forecast for zone " + (g ? g->zone : std::string("?")) +
                (g && !g->why_no_data.empty() ? " (" + g->why_no_data + ")" : "") + "; not waiting blind"};
  IntensitySeries series = g->forecast;
  bool extended = ExtendDaily(series, latest + d.duration);
  auto best = BestStart(series, earliest, latest, d.duration);
  double now_mean = MeanIntervals(series, in.now, in.now + d.duration);
  std::string tail = "expected duration " + FormatDuration(d.duration) + " (" + d.source + "); forecast from " +
                     g->forecast_source + (extended ? ", extended past its horizon by the daily cycle" : "");
  ReleaseDecision out;
  if (!best || best->start <= in.now) {
    out = {true, in.now,
           "released: now is the cleanest start in the window (mean " + G(now_mean) + " g/kWh over " +
               FormatDuration(d.duration) + "); " + tail};
    out.mean_gco2_per_kwh = now_mean;
  } else if (in.planned_start && in.now >= *in.planned_start &&
             now_mean <= best->mean_gco2_per_kwh * (1 + kKeepPlanMargin)) {
    out = {true, in.now,
           "released at its planned start (mean " + G(now_mean) + " g/kWh over " + FormatDuration(d.duration) +
               "; the newest forecast's best later window, " + ShortTime(best->start, in.now) + " UTC at " +
               G(best->mean_gco2_per_kwh) + ", is within " + G(kKeepPlanMargin * 100) + "%); " + tail};
    out.mean_gco2_per_kwh = now_mean;
  } else {
    out = {false, best->start,
           "waiting for forecast window " + ShortTime(best->start, in.now) + "-" + ShortTime(best->end, best->start) +
               " UTC, mean " + G(best->mean_gco2_per_kwh) + " g/kWh vs " + G(now_mean) + " if started now; " + tail,
           best->end};
    out.mean_gco2_per_kwh = best->mean_gco2_per_kwh;
  }
  return out;
}

Placement PlaceJob(const PolicyRegistry& policies, const PolicyInput& in, const std::vector<SiteOption>& sites,
                   std::optional<size_t> current, double switch_margin) {
  Placement p;
  if (sites.empty()) {
    p.decision = {false, std::nullopt, "no site to run at"};
    return p;
  }
  std::vector<ReleaseDecision> ds;
  for (const SiteOption& s : sites) {
    PolicyInput x = in;
    x.grid = s.grid;
    ds.push_back(policies.Decide(x));
  }
  auto dirtier = [&](size_t than, size_t i) -> std::string {
    const auto a = ds[than].mean_gco2_per_kwh, b = ds[i].mean_gco2_per_kwh;
    if (!a || !b || *a <= 0) return sites[i].name;
    return sites[i].name + " is " + G((*b / *a - 1) * 100) + "% dirtier";
  };
  auto at = [&](size_t i, const std::string& why) {
    p.site = i;
    p.decision = ds[i];
    p.decision.reason = "site " + sites[i].name + ": " + ds[i].reason + why;
    return p;
  };
  auto wait_for_slot = [&](size_t i, const std::string& others) {
    p.site = i;
    p.decision = ds[i];
    p.decision.release = false;
    p.decision.needs_slot = true;
    p.decision.reason = "waiting for a slot at " + sites[i].name + (others.empty() ? "" : "; " + others) + " (" +
                        ds[i].reason + ")";
    return p;
  };
  const std::string& policy = in.spec.carbon.policy;
  if (policy == "forecast") {
    std::optional<double> best;
    for (const auto& d : ds)
      if (d.mean_gco2_per_kwh && (!best || *d.mean_gco2_per_kwh < *best)) best = d.mean_gco2_per_kwh;
    std::vector<size_t> near;
    for (size_t i = 0; i < ds.size(); ++i)
      if (!best || (ds[i].mean_gco2_per_kwh && *ds[i].mean_gco2_per_kwh <= *best * (1 + switch_margin)))
        near.push_back(i);
    size_t pick = near.front();  // the first-listed of the near-ties
    if (current && std::find(near.begin(), near.end(), *current) != near.end()) pick = *current;
    std::string others;
    for (size_t i = 0; i < ds.size(); ++i)
      if (i != pick && ds[i].mean_gco2_per_kwh)
        others += (others.empty() ? "; other sites: " : ", ") + sites[i].name + " " + G(*ds[i].mean_gco2_per_kwh) +
                  " g/kWh";
    if (!ds[pick].release || sites[pick].slot_free) return at(pick, others);
    for (size_t i : near)
      if (ds[i].release && sites[i].slot_free) return at(i, "; " + sites[pick].name + " is full" + others);
    std::string free;
    for (size_t i = 0; i < ds.size(); ++i)
      if (i != pick && sites[i].slot_free) free += (free.empty() ? "" : ", ") + dirtier(pick, i);
    return wait_for_slot(pick, free);
  }
  if (policy == "threshold") {
    const double threshold = in.spec.carbon.threshold_gco2_per_kwh.value_or(0);
    std::optional<size_t> first_under, first_full_under;
    for (size_t i = 0; i < sites.size(); ++i) {
      const GridView* g = sites[i].grid;
      if (!(g && g->current_gco2_per_kwh && *g->current_gco2_per_kwh <= threshold)) continue;
      if (sites[i].slot_free) {
        if (!first_under) first_under = i;
      } else if (!first_full_under) {
        first_full_under = i;
      }
    }
    if (first_under) return at(*first_under, "");
    if (ds.front().release) {  // max_wait or the deadline: the first site with a slot
      for (size_t i = 0; i < sites.size(); ++i)
        if (sites[i].slot_free) return at(i, "");
      return wait_for_slot(0, "");
    }
    if (first_full_under) return wait_for_slot(*first_full_under, "");
    std::string now;
    for (size_t i = 0; i < sites.size(); ++i) {
      const GridView* g = sites[i].grid;
      now += (now.empty() ? "" : ", ") + sites[i].name + " " +
             (g && g->current_gco2_per_kwh ? G(*g->current_gco2_per_kwh) + " g/kWh" : std::string("unknown"));
    }
    return at(0, "; now: " + now);
  }
  // immediate (and any other policy): the first site with a free slot.
  for (size_t i = 0; i < sites.size(); ++i)
    if (!ds[i].release || sites[i].slot_free) return at(i, "");
  return wait_for_slot(0, "");
}

PolicyRegistry::PolicyRegistry() {
  Register("immediate", std::make_unique<ImmediatePolicy>());
  Register("threshold", std::make_unique<ThresholdPolicy>());
  Register("forecast", std::make_unique<ForecastPolicy>());
}

void PolicyRegistry::Register(const std::string& name, std::unique_ptr<ReleasePolicy> policy) {
  policies_[name] = std::move(policy);
}

ReleaseDecision PolicyRegistry::Decide(const PolicyInput& in) const {
  auto it = policies_.find(in.spec.carbon.policy);
  if (it != policies_.end()) return it->second->Decide(in);
  ReleaseDecision d = policies_.at("immediate")->Decide(in);
  d.reason += " (policy '" + in.spec.carbon.policy + "' is not available in this version of carbond; ran as immediate)";
  return d;
}

}  // namespace carbon

// The segment planner of interruptible jobs (common/segments.h), against a
// brute force over every subset of hours, and the forecast policy's
// decisions for interruptible jobs (common/policy.h).
#include "common/segments.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "common/job_spec.h"
#include "common/policy.h"
#include "common/time_util.h"

namespace carbon {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

Timestamp T(const char* s) { return *ParseTime(s); }

IntensitySeries Hourly(Timestamp from, const std::vector<double>& values) {
  IntensitySeries s;
  for (size_t i = 0; i < values.size(); ++i) s.push_back({from + hours(i), hours(1), values[i], true});
  return s;
}

// The least cost over every subset of whole hours, by the planner's rules:
// segments of at least m hours but the one that finishes the work, each
// resume after the first segment paying `overhead`, the last hour charged
// for its used part only. Infinity when nothing fits.
double BruteForce(const std::vector<double>& v, double work_h, int m, double overhead_h) {
  const size_t n = v.size();
  double best = std::numeric_limits<double>::infinity();
  for (uint32_t mask = 1; mask < (1u << n); ++mask) {
    double cost = 0, done = 0;
    int segments = 0, run = 0;
    bool finished = false, ok = true;
    for (size_t k = 0; k < n && ok; ++k) {
      const bool use = mask & (1u << k);
      if (finished) {
        ok = !use;  // nothing after the work is done
        continue;
      }
      if (!use) {
        if (run > 0 && run < m) ok = false;  // a segment cut short of m hours
        run = 0;
        continue;
      }
      if (run == 0) ++segments;
      ++run;
      const double owed = work_h + overhead_h * (segments - 1);
      if (owed - done <= 1.0 + 1e-12) {
        cost += v[k] * (owed - done);
        finished = true;
      } else {
        cost += v[k];
        done += 1.0;
      }
    }
    if (ok && finished) best = std::min(best, cost);
  }
  return best;
}

TEST(PlanSegments, MatchesABruteForceOverEveryChoiceOfHours) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> value(50, 400);
  const Timestamp t0 = T("2026-03-01T00:00:00Z");
  int checked = 0;
  for (int round = 0; round < 60; ++round) {
    std::vector<double> v(11);
    for (double& x : v) x = value(rng);
    const int m = 1 + round % 3;
    const double work_h = 1 + round % 5 + (round % 2 ? 0.5 : 0);
    const Duration overhead = minutes((round * 7) % 30);
    SegmentRequest rq;
    rq.now = t0;
    rq.deadline = t0 + hours(v.size());
    rq.remaining = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(work_h * 3600));
    rq.min_segment = hours(m);
    rq.overhead = overhead;
    SegmentPlan plan = PlanSegments(Hourly(t0, v), rq);
    const double want = BruteForce(v, work_h, m, std::chrono::duration<double>(overhead).count() / 3600);
    if (std::isinf(want)) {
      EXPECT_FALSE(plan.feasible()) << "round " << round;
      continue;
    }
    ASSERT_TRUE(plan.feasible()) << "round " << round;
    EXPECT_NEAR(plan.cost, want, 1e-6) << "round " << round;
    // The plan's own cost is its segments' integral, and its work is done.
    EXPECT_NEAR(SegmentsCost(Hourly(t0, v), plan.segments), plan.cost, 1e-6) << "round " << round;
    double ran_h = 0;
    for (const Segment& s : plan.segments) ran_h += std::chrono::duration<double>(s.end - s.start).count() / 3600;
    const double overheads = std::chrono::duration<double>(overhead).count() / 3600 * (plan.segments.size() - 1);
    EXPECT_NEAR(ran_h, work_h + overheads, 1e-6) << "round " << round;
    for (size_t i = 0; i + 1 < plan.segments.size(); ++i)
      EXPECT_GE(plan.segments[i].end - plan.segments[i].start, hours(m)) << "round " << round;
    ++checked;
  }
  EXPECT_GT(checked, 40);
}

TEST(PlanSegments, PausesThroughTheDirtyHoursAndCountsTheOverhead) {
  const Timestamp t0 = T("2026-03-01T00:00:00Z");
  // Clean x2, dirty x3, clean x3: a 4 h job runs the first clean pair, pauses
  // through the dirty hours and runs the second pair plus its resume's 6 minutes.
  IntensitySeries s = Hourly(t0, {100, 100, 500, 500, 500, 100, 100, 100});
  SegmentRequest rq;
  rq.now = t0;
  rq.deadline = t0 + hours(8);
  rq.remaining = hours(4);
  rq.overhead = minutes(6);
  SegmentPlan plan = PlanSegments(s, rq);
  ASSERT_EQ(plan.segments.size(), 2u);
  EXPECT_EQ(plan.segments[0].start, t0);
  EXPECT_EQ(plan.segments[0].end, t0 + hours(2));
  EXPECT_EQ(plan.segments[1].start, t0 + hours(5));
  EXPECT_EQ(plan.segments[1].end, t0 + hours(7) + minutes(6));
  EXPECT_NEAR(plan.cost, 100 * 4 + 100 * 0.1, 1e-6);
  EXPECT_NEAR(plan.mean_gco2_per_kwh, plan.cost / 4.1, 1e-6);
  // A job that ran before pays the overhead on its first segment too.
  rq.never_started = false;
  plan = PlanSegments(s, rq);
  ASSERT_EQ(plan.segments.size(), 2u);
  EXPECT_EQ(plan.segments[0].end, t0 + hours(2));
  EXPECT_EQ(plan.segments[1].end, t0 + hours(7) + minutes(12));
  rq.never_started = true;

  // A resume that costs more than it saves: one window, the last four hours.
  rq.overhead = hours(2);
  plan = PlanSegments(s, rq);
  ASSERT_EQ(plan.segments.size(), 1u);
  EXPECT_NEAR(plan.cost, 100 * 3 + 500, 1e-6);
  // Work that needs every hour left: one segment to the deadline.
  rq.overhead = minutes(2);
  rq.remaining = hours(8);
  plan = PlanSegments(s, rq);
  ASSERT_EQ(plan.segments.size(), 1u);
  EXPECT_EQ(plan.segments[0].start, t0);
  EXPECT_EQ(plan.segments[0].end, t0 + hours(8));
  rq.remaining = hours(8) + minutes(1);
  EXPECT_FALSE(PlanSegments(s, rq).feasible());
}

TEST(PlanSegments, ARunningJobPausesOnlyAfterItsMinimumSegment) {
  const Timestamp t0 = T("2026-03-01T00:00:00Z");
  IntensitySeries s = Hourly(t0, {500, 100, 100, 100, 100, 100});
  SegmentRequest rq;
  rq.now = t0;
  rq.deadline = t0 + hours(6);
  rq.remaining = hours(2);
  rq.running = true;
  rq.never_started = false;
  rq.min_segment = hours(1);
  rq.running_for = minutes(20);  // too soon to pause: runs through the dirty hour
  SegmentPlan plan = PlanSegments(s, rq);
  ASSERT_TRUE(plan.feasible());
  EXPECT_TRUE(plan.StartsAt(t0));
  rq.running_for = hours(1);  // may pause now, and should
  plan = PlanSegments(s, rq);
  ASSERT_TRUE(plan.feasible());
  EXPECT_EQ(plan.segments.front().start, t0 + hours(1));
  // A half-hourly forecast and a now between its boundaries: the first slot is partial.
  IntensitySeries half;
  for (int i = 0; i < 12; ++i) half.push_back({t0 + minutes(30 * i), minutes(30), i < 4 ? 400.0 : 80.0, true});
  SegmentRequest h;
  h.now = t0 + minutes(10);
  h.deadline = t0 + hours(6);
  h.remaining = hours(1);
  h.min_segment = minutes(30);
  plan = PlanSegments(half, h);
  ASSERT_EQ(plan.segments.size(), 1u);
  EXPECT_EQ(plan.segments[0].start, t0 + hours(2));
  EXPECT_EQ(plan.segments[0].end, t0 + hours(3));
}

JobSpec Interruptible(const std::string& extra = "") {
  return *ParseJobSpec("name: a\ncarbon: {policy: forecast, interruptible: true, expected_duration: 4h, deadline: "
                       "2026-03-01T08:00:00Z" +
                           extra + "}\n",
                       "job.yaml");
}

TEST(InterruptiblePolicy, WaitsRunsPausesAndHoldsTheDeadline) {
  const Timestamp t0 = T("2026-03-01T00:00:00Z");
  GridView g;
  g.zone = "GB";
  g.forecast = Hourly(t0, {300, 100, 100, 310, 310, 120, 120, 300});
  g.forecast_source = "test";
  g.current_gco2_per_kwh = 300;
  JobSpec spec = Interruptible();
  PolicyInput in{spec, t0, t0};
  in.grid = &g;
  ReleaseDecision d = ForecastPolicy().Decide(in);
  EXPECT_FALSE(d.release);
  EXPECT_EQ(*d.planned_start, t0 + hours(1));
  EXPECT_NE(d.reason.find("waiting for its first segment at 01:00 UTC: 300 g/kWh now, 100 then; 0 h of 4 h done; "
                          "2 segments planned, mean 112 g/kWh"),
            std::string::npos)
      << d.reason;
  // At 01:00 it is released until 03:00.
  in.now = t0 + hours(1);
  d = ForecastPolicy().Decide(in);
  EXPECT_TRUE(d.release);
  ASSERT_TRUE(d.segment_end);
  EXPECT_EQ(*d.segment_end, t0 + hours(3));
  EXPECT_NE(d.reason.find("released until 03:00 UTC (2 segments planned"), std::string::npos) << d.reason;
  // At 03:00, 2 h done: paused until 05:00 (the resume's 2 minutes run into 07:00's 300).
  in.now = t0 + hours(3);
  in.progress.started = in.progress.running = true;
  in.progress.done = hours(2);
  in.progress.running_for = hours(2);
  g.current_gco2_per_kwh = 310;
  d = ForecastPolicy().Decide(in);
  EXPECT_FALSE(d.release);
  EXPECT_EQ(*d.planned_start, t0 + hours(5));
  EXPECT_NE(d.reason.find("paused until 05:00 UTC: 310 g/kWh now, 123 then; 2 h of 4 h done"), std::string::npos)
      << d.reason;
  // Paused at 04:00 with 2 h left and the deadline at 08:00: it still waits for 05:00.
  in.now = t0 + hours(4);
  in.progress.running = false;
  in.progress.running_for = {};
  d = ForecastPolicy().Decide(in);
  EXPECT_FALSE(d.release);
  // Later, the work left needs all the time left: it runs to the end.
  in.now = t0 + hours(6);
  d = ForecastPolicy().Decide(in);
  EXPECT_TRUE(d.release);
  EXPECT_FALSE(d.segment_end);
  in.now = t0 + hours(6) + minutes(30);
  d = ForecastPolicy().Decide(in);
  EXPECT_TRUE(d.release);
  EXPECT_FALSE(d.segment_end);
  EXPECT_NE(d.reason.find("released to run to the end: the deadline 08:00 UTC leaves no time to pause"),
            std::string::npos)
      << d.reason;
  // Past its expected duration: on to the end, whatever the grid.
  in.progress.done = hours(4) + minutes(1);
  d = ForecastPolicy().Decide(in);
  EXPECT_TRUE(d.release);
  EXPECT_NE(d.reason.find("it has run its expected duration"), std::string::npos) << d.reason;
}

TEST(InterruptibleSpec, BadInputNamesTheFieldAndWhatIsAccepted) {
  auto threshold = ParseJobSpec("name: a\ncarbon:\n  policy: threshold\n  threshold_gco2_per_kwh: 100\n"
                                "  interruptible: true\n",
                                "job.yaml");
  ASSERT_FALSE(threshold.ok());
  EXPECT_NE(threshold.status().message().find("'carbon.interruptible': needs policy forecast (its segments are planned over the forecast); policy is 'threshold' at job.yaml:5:18"),
            std::string::npos)
      << threshold.status().message();
  auto seg = ParseJobSpec("name: a\ncarbon: {interruptible: true, min_segment: 10s}\n", "job.yaml");
  ASSERT_FALSE(seg.ok());
  EXPECT_NE(seg.status().message().find("'carbon.min_segment': 10s is not accepted; a segment lasts at least 1m"),
            std::string::npos)
      << seg.status().message();
  auto alone = ParseJobSpec("name: a\ncarbon: {min_segment: 2h}\n", "job.yaml");
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.status().message().find("applies to interruptible jobs only"), std::string::npos);
  auto word = ParseJobSpec("name: a\ncarbon: {interruptible: sometimes}\n", "job.yaml");
  ASSERT_FALSE(word.ok());
  EXPECT_NE(word.status().message().find("'sometimes' is not a boolean; expected true or false"), std::string::npos);
  auto sites = ParseJobSpec("name: a\ncarbon: {interruptible: true, sites: [a, b]}\n", "job.yaml");
  ASSERT_FALSE(sites.ok());
  EXPECT_NE(sites.status().message().find("names one site; carbon.sites lists 2"), std::string::npos)
      << sites.status().message();
}

}  // namespace
}  // namespace carbon
